import NIOConcurrencyHelpers
import ProcFS
import Synchronization

/// A followed process's open /proc/PID with its stat and statm (``KeptProcessFiles``), shared by
/// every watch of one client that follows that process (``KeptHandles``). Each reading is made under
/// its lock, into its one buffer: two watches on two threads read it in turn. Closed when the last
/// watch lets it go.
final class ProcessHandle: Sendable {
    private let files: Mutex<KeptProcessFiles>

    init(_ files: consuming sending ProcessFiles) throws(ProcError) { self.files = Mutex(try KeptProcessFiles(files)) }

    func read() throws(ProcError) -> (stat: ProcessStat, statm: ProcessStatm) {
        try files.withLock { files throws(ProcError) in try files.read() }
    }

    func detailTotals() throws(ProcError) -> SmapsDetail {
        try files.withLock { files throws(ProcError) in try ProcMethods.detailTotals(&files.files) }
    }
}

/// The kept descriptors of followed processes, one set per client and process, whatever the number
/// of that client's watches following it: 16 watches of one tree of 101 processes keep 303
/// descriptors, not 4,848 (which the per-uid ``DescriptorBudget`` cut to a quarter, the rest
/// reopened every sample: 36% of memd's CPU in that case).
///
/// A handle is found by the client it was opened and verified for (uid, gid and pid: the pid
/// decides whether a non-dumpable process is the client's own, ``ProcessFiles/verify()``), the
/// process's pid and its start time (a handle on a process that is gone must not stand for a later
/// one with the same pid). Every reading through it verifies the owner for that client, as before.
final class KeptHandles: Sendable {
    static let shared = KeptHandles()

    struct Key: Hashable, Sendable {
        let uid: UInt32
        let gid: UInt32
        let clientPID: Int32
        let pid: Int32
        let startTime: Int

        init(peer: PeerCredentials, pid: Int32, startTime: Int) {
            (uid, gid, clientPID) = (peer.uid, peer.gid, peer.pid)
            (self.pid, self.startTime) = (pid, startTime)
        }
    }

    private struct Kept {
        let handle: ProcessHandle
        var users: Int
    }

    private let table = NIOLockedValueBox<[Key: Kept]>([:])
    private let budget: DescriptorBudget

    init(budget: DescriptorBudget = .shared) { self.budget = budget }

    /// The handle kept for `key`, with one more user (who calls ``release(_:)``); nil when none is.
    func borrow(_ key: Key) -> ProcessHandle? {
        table.withLockedValue { table in
            guard var kept = table[key] else { return nil }
            kept.users += 1
            table[key] = kept
            return kept.handle
        }
    }

    /// Keeps `handle` (opened for `key`, and read: its start time is the key's) for the next samples:
    /// the handle to keep using, `handle` or the one another watch kept meanwhile, with one more user;
    /// nil when the client's share of descriptors is used up (the process is opened anew each sample).
    func keep(_ handle: ProcessHandle, for key: Key) -> ProcessHandle? {
        table.withLockedValue { table in
            if var kept = table[key] {
                kept.users += 1
                table[key] = kept
                return kept.handle
            }
            guard budget.take(KeptProcessFiles.descriptors, uid: key.uid) else { return nil }
            table[key] = Kept(handle: handle, users: 1)
            return handle
        }
    }

    /// One user less; the last closes the descriptors (once no reading holds the handle).
    func release(_ key: Key) {
        table.withLockedValue { table in
            guard var kept = table[key] else { return }
            kept.users -= 1
            if kept.users > 0 {
                table[key] = kept
            } else {
                table[key] = nil
                budget.give(KeptProcessFiles.descriptors, uid: key.uid)
            }
        }
    }

    /// Handles kept now (for tests).
    var count: Int { table.withLockedValue { $0.count } }
}
