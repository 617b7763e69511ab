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
    }

    private let state = Mutex(State())

    public init() {}

    /// The connection read its socket: what comes next is newer than every snapshot held.
    func socketRead() {
        state.withLock { $0.reads &+= 1 }
    }

    /// The `meminfo` result's text: the snapshot taken since the last socket read, else `read()`'s
    /// (kept for the lines that came with the same read).
    public func meminfo<Failure: Error>(_ read: () throws(Failure) -> JSON) throws(Failure) -> JSON {
        let (held, reads) = state.withLock { state in
            (state.meminfo?.afterReads == state.reads ? state.meminfo?.json : nil, state.reads)
        }
        if let held { return held }
        let json = try read()
        state.withLock { $0.meminfo = (reads, json) }
        return json
    }
}
