import JSONRPC
import Synchronization

/// What one read of a connection's socket brought shares one read of /proc: every `meminfo` line
/// it held is answered from the first one's snapshot, encoded once.
///
/// An answer must be read after its request came in; a snapshot taken since the connection last
/// read its socket is: every line still waiting came with a read made before it. So a client that
/// pipelines a thousand `meminfo` calls gets them answered from one read of /proc/meminfo and
/// /proc/pressure/memory, not a thousand (each of ~7 µs of the kernel's formatting), and the next
/// read of the socket starts afresh. One per connection: nothing is shared between clients.
public final class SharedReads: Sendable {
    private struct State {
        /// Socket reads so far.
        var reads = 0
        /// The last `meminfo` result's text, and how many socket reads had been made when it was read.
        var meminfo: (afterReads: Int, json: JSON)?
        /// Reads /proc/meminfo and /proc/pressure/memory, and encodes them when they changed.
        var text = MeminfoText()
    }

    private let state = Mutex(State())

    public init() {}

    /// The connection read its socket: what comes next is newer than every snapshot held.
    func socketRead() {
        state.withLock { $0.reads &+= 1 }
    }

    /// The `meminfo` result's text (of /proc, without `cgroup`): the snapshot taken since the last
    /// socket read, else a fresh one (kept for the lines that came in with the same reads).
    func meminfo() throws(HostReadError) -> JSON {
        try state.withLock { state throws(HostReadError) -> JSON in
            if let held = state.meminfo, held.afterReads == state.reads { return held.json }
            let json = try state.text.read()
            state.meminfo = (state.reads, json)
            return json
        }
    }
}
