import JSONRPC
import ProcFS

/// The access rule of the contract, in one place: a client may read a process's
/// memory when it is root or owns the process (its effective uid, as /proc/PID's
/// owner shows it), judged on the files actually read (``ProcessFiles``: open through
/// a /proc/PID directory descriptor, then verify the owner on that descriptor).
enum Access {
    static func client(_ peer: PeerCredentials) -> ProcClient { ProcClient(uid: peer.uid, gid: peer.gid) }

    /// Opens `pid`'s files for `peer`, runs `body` on them, and turns a failure into the
    /// wire error: -32001 gone, -32002 refused. Every per-process read goes through here.
    static func read<T>(
        pid: Int32,
        peer: PeerCredentials,
        capacity: Int = 64 * 1024,
        _ body: (inout ProcessFiles) throws(ProcError) -> T
    ) throws(RPCError) -> T {
        do {
            var files = try ProcessFiles(pid: pid, client: client(peer), capacity: capacity)
            return try body(&files)
        } catch {
            throw wire(error, pid: pid, peer: peer)
        }
    }

    /// Opens `pid`'s files for `peer` and keeps them open (for a caller that reads on,
    /// like a pagemap lookup loop); map later errors with ``wire(_:pid:peer:)``.
    static func open(pid: Int32, peer: PeerCredentials, capacity: Int = 64 * 1024) throws(RPCError) -> ProcessFiles {
        do {
            return try ProcessFiles(pid: pid, client: client(peer), capacity: capacity)
        } catch {
            throw wire(error, pid: pid, peer: peer)
        }
    }

    /// Refuses (-32002) or reports gone (-32001) unless `peer` may read `pid` now.
    /// Prefer ``read(pid:peer:capacity:_:)``, which also verifies after each read.
    static func check(pid: Int32, peer: PeerCredentials) throws(RPCError) {
        try read(pid: pid, peer: peer, capacity: 4096) { _ in }
    }

    /// A /proc read error of process `pid`, on the wire: a process that vanished
    /// mid-read is -32001, a refusal -32002.
    static func wire(_ error: ProcError, pid: Int32, peer: PeerCredentials? = nil) -> RPCError {
        switch error {
        case .notFound: return .processNotFound(Int(pid))
        case .permissionDenied(let path):
            // For the message only: the decision was taken on the descriptors.
            if let peer, !peer.isRoot, let owner = try? processOwner(pid: pid) {
                guard owner == peer.uid else {
                    return .permissionDenied(
                        pid: Int(pid),
                        reason: "process \(pid) belongs to uid \(owner), not to you (uid \(peer.uid))"
                    )
                }
                return .permissionDenied(
                    pid: Int(pid),
                    reason: "process \(pid) is not dumpable (a setuid program, or it changed its credentials): "
                        + "the kernel would not let uid \(peer.uid) read it either"
                )
            }
            return .permissionDenied(pid: Int(pid), reason: "the kernel refused to let memd read \(path)")
        case .io, .malformed: return .internalError(error.description)
        }
    }
}
