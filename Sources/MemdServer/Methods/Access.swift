import JSONRPC
import ProcFS

/// The access rule of the contract, in one place: a client may read a process's
/// memory when it is root or owns the process (its effective uid, as /proc/PID's
/// owner shows it), judged on the files actually read (``ProcessFiles``: open through
/// a /proc/PID directory descriptor, then verify the owner on that descriptor).
enum Access {
    /// The client as ``ProcessFiles`` judges it: its uid, and its own process (always its own to read).
    static func client(_ peer: PeerCredentials) -> ProcClient {
        ProcClient(uid: peer.uid, gid: peer.gid, pid: peer.pid)
    }

    /// Opens `pid`'s files for `peer` and runs `body` on them; a failure says which process and
    /// for whom (``ProcessReadError``: gone or refused). Every per-process read goes through here.
    static func read<T>(
        pid: Int32,
        peer: PeerCredentials,
        capacity: Int = 64 * 1024,
        _ body: (inout ProcessFiles) throws(ProcError) -> T
    ) throws(ProcessReadError) -> T {
        do {
            var files = try ProcessFiles(pid: pid, client: client(peer), capacity: capacity)
            return try body(&files)
        } catch {
            throw ProcessReadError(pid: pid, peer: peer, error)
        }
    }

    /// Opens `pid`'s files for `peer` and keeps them open (for a caller that reads on,
    /// like a pagemap lookup loop; it wraps later errors in ``ProcessReadError`` too).
    static func open(
        pid: Int32,
        peer: PeerCredentials,
        capacity: Int = 64 * 1024
    ) throws(ProcessReadError) -> ProcessFiles {
        do {
            return try ProcessFiles(pid: pid, client: client(peer), capacity: capacity)
        } catch {
            throw ProcessReadError(pid: pid, peer: peer, error)
        }
    }

    /// `pid`'s /proc/PID/stat for `peer`, read with `reader`: for root by its path (one open, no
    /// /proc/PID directory: root may read every process, so nothing is verified, and one file needs
    /// no directory to pin it), for anyone else through ``read(pid:peer:capacity:_:)``.
    static func stat(
        pid: Int32,
        peer: PeerCredentials,
        reader: inout ProcReader
    ) throws(ProcessReadError) -> ProcessStat {
        guard peer.isRoot else {
            return try read(pid: pid, peer: peer, capacity: 1024) { files throws(ProcError) in try files.stat() }
        }
        do {
            return try reader.stat(pid: pid)
        } catch {
            throw ProcessReadError(pid: pid, peer: peer, error)
        }
    }

    /// Refuses or reports gone unless `peer` may read `pid` now.
    /// Prefer ``read(pid:peer:capacity:_:)``, which also verifies after each read.
    static func check(pid: Int32, peer: PeerCredentials) throws(ProcessReadError) {
        try read(pid: pid, peer: peer, capacity: 4096) { _ in }
    }
}
