import NIOConcurrencyHelpers
import NIOPosix

/// Where calls that wait run: reads of another process's /proc files (they take its mmap lock),
/// simulator work (long, and queued per machine), waits on children.
///
/// Not the event loops (they serve every connection) and not Swift's cooperative pool (one thread
/// per core: two waiting calls would stall every other task). A fixed pool of threads that may
/// block; a call suspends its task until its body has run there.
public final class WaitingWork: Sendable {
    private let pool: NIOThreadPool

    public init(threads: Int) {
        pool = NIOThreadPool(numberOfThreads: max(1, threads))
        pool.start()
    }

    /// Runs `body` on a pool thread. Cancelling the calling task sets the flag `body` is given,
    /// which long work checks (the simulator: at least every 65,536 accesses).
    public func run<T: Sendable>(_ body: @escaping @Sendable (CancelFlag) throws -> T) async throws -> T {
        let flag = CancelFlag()
        return try await withTaskCancellationHandler {
            try await pool.runIfActive { try body(flag) }
        } onCancel: {
            flag.cancel()
        }
    }

    /// Runs `body` on `workers` pool threads at once (each gets its index: a fan-out, e.g. `usage`
    /// reading every process); their results, in no particular order.
    public func parallel<T: Sendable>(
        workers: Int,
        _ body: @escaping @Sendable (_ worker: Int, CancelFlag) throws -> T
    ) async throws -> [T] {
        let flag = CancelFlag()
        return try await withTaskCancellationHandler {
            try await withThrowingTaskGroup(of: T.self) { group in
                for worker in 0..<max(1, workers) {
                    group.addTask { try await self.pool.runIfActive { try body(worker, flag) } }
                }
                var results: [T] = []
                for try await result in group { results.append(result) }
                try Task.checkCancellation()
                return results
            }
        } onCancel: {
            flag.cancel()
        }
    }

    public func shutdown() async throws { try await pool.shutdownGracefully() }
}

/// Set when the call that started a piece of work was cancelled.
public final class CancelFlag: Sendable {
    private let state = NIOLockedValueBox(false)
    public init() {}
    public var isCancelled: Bool { state.withLockedValue { $0 } }
    public func cancel() { state.withLockedValue { $0 = true } }
}
