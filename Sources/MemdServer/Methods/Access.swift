import JSONRPC
import ProcFS

/// The access rule of the contract, in one place: a client may read a process's
/// memory when it is root or owns the process (/proc/PID's owner, the euid).
enum Access {
    static func check(pid: Int32, peer: PeerCredentials) throws(RPCError) {
        guard !peer.isRoot else {
            guard (try? processOwner(pid: pid)) != nil else { throw .processNotFound(Int(pid)) }
            return
        }
        let owner: UInt32
        do {
            owner = try processOwner(pid: pid)
        } catch {
            throw .processNotFound(Int(pid))
        }
        guard owner == peer.uid else {
            throw .permissionDenied(
                pid: Int(pid), reason: "process \(pid) belongs to uid \(owner), not to you (uid \(peer.uid))")
        }
    }

    /// Whether a process is listed for this client in `pageStats all`.
    static func canSee(pid: Int32, peer: PeerCredentials) -> Bool {
        peer.isRoot || (try? processOwner(pid: pid)) == peer.uid
    }

    /// A /proc read error of process `pid`, on the wire: a process that vanished
    /// mid-read is -32001, a refusal by the kernel -32002.
    static func wire(_ error: ProcError, pid: Int32) -> RPCError {
        switch error {
        case .notFound: return .processNotFound(Int(pid))
        case .permissionDenied(let path):
            return .permissionDenied(pid: Int(pid), reason: "the kernel refused to let memd read \(path)")
        case .io, .malformed: return .internalError(error.description)
        }
    }
}
