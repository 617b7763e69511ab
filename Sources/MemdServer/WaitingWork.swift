import NIOConcurrencyHelpers

/// Where one connection's calls run: its uid's share of the ``FairPool``, in a lane of its own.
///
/// Every task memd starts for a call prefers this executor (`Task(executorPreference:)`), so each
/// step of the call — planning a large batch, a handler, encoding the result — runs on a pool
/// thread in its uid's turn, never on an event loop and never on Swift's cooperative pool (one
/// thread per core: two calls that wait there would stall every other task). Work that blocks
/// (reads of another process's /proc files, which take its mmap lock; the simulator; waits on
/// children) runs through ``run(_:)``, on a pool thread of this uid too.
public final class WaitingWork: TaskExecutor, Sendable {
    let pool: FairPool
    public let uid: UInt32

    init(pool: FairPool, uid: UInt32) {
        self.pool = pool
        self.uid = uid
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        pool.enqueue(.task(UnownedJob(job), asUnownedTaskExecutor()), uid: uid, lane: ObjectIdentifier(self))
    }

    /// Whether the calling thread is one of this uid's pool threads now.
    private var isCurrent: Bool {
        guard let worker = FairPool.current else { return false }
        return worker.pool === pool && worker.uid == uid
    }

    /// Runs `body` on a pool thread of this uid (where the calling task already is, unless it was
    /// started elsewhere). Cancelling the calling task sets the flag `body` is given, which long
    /// work checks (the simulator: at least every 65,536 accesses).
    public func run<T: Sendable>(_ body: @escaping @Sendable (CancelFlag) throws -> T) async throws -> T {
        let flag = CancelFlag()
        return try await withTaskCancellationHandler {
            if isCurrent { return try body(flag) }
            return try await withTaskExecutorPreference(self) { try body(flag) }
        } onCancel: {
            flag.cancel()
        }
    }

    /// Runs `body` on `workers` pool threads of this uid at once (each gets its index: a fan-out,
    /// e.g. `usage` reading every process); their results, in no particular order. The uid's
    /// share bounds how many run at the same time.
    public func parallel<T: Sendable>(
        workers: Int,
        _ body: @escaping @Sendable (_ worker: Int, CancelFlag) throws -> T
    ) async throws -> [T] {
        let flag = CancelFlag()
        return try await withTaskCancellationHandler {
            try await withTaskExecutorPreference(self) {
                try await withThrowingTaskGroup(of: T.self) { group in
                    for worker in 0..<max(1, workers) {
                        group.addTask(executorPreference: self) { try body(worker, flag) }
                    }
                    var results: [T] = []
                    for try await result in group { results.append(result) }
                    try Task.checkCancellation()
                    return results
                }
            }
        } onCancel: {
            flag.cancel()
        }
    }
}

/// Set when the call that started a piece of work was cancelled.
public final class CancelFlag: Sendable {
    private let state = NIOLockedValueBox(false)
    public init() {}
    public var isCancelled: Bool { state.withLockedValue { $0 } }
    public func cancel() { state.withLockedValue { $0 = true } }
}
