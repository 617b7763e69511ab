#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A job done by whichever thread comes to it first: a helper thread (``run()``), or the caller
/// when it asks for the result (``result()``) and no helper has started it. So the caller never
/// waits for a helper that has not started (one queued behind other work may start late or never,
/// and then finds nothing to do); it waits only for one already running the job.
public final class HelpedJob<Value>: @unchecked Sendable {
    private var work: (() -> Value)?
    private var value: Value?
    private var isRunning = false
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let done = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    public init(_ work: @escaping () -> Value) {
        self.work = work
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(done, nil)
    }

    deinit {
        pthread_cond_destroy(done)
        pthread_mutex_destroy(mutex)
        done.deallocate()
        mutex.deallocate()
    }

    /// What a helper thread runs: the job, unless another thread has taken it.
    public func run() {
        _ = take()
    }

    /// The job is not wanted: nobody runs it from now on, and what it holds is let go.
    public func cancel() {
        pthread_mutex_lock(mutex)
        work = nil
        pthread_mutex_unlock(mutex)
    }

    /// The job's value: done here if nobody has started it, else waited for; nil if it was
    /// cancelled.
    public func result() -> Value? {
        if let value = take() { return value }
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while value == nil, isRunning { pthread_cond_wait(done, mutex) }
        return value
    }

    /// Runs the job if nobody has: its value, or nil if another thread has it.
    private func take() -> Value? {
        pthread_mutex_lock(mutex)
        guard !isRunning, let work else {
            pthread_mutex_unlock(mutex)
            return nil
        }
        isRunning = true
        self.work = nil  // what it holds (an open file) goes with it
        pthread_mutex_unlock(mutex)
        let value = work()
        pthread_mutex_lock(mutex)
        self.value = value
        pthread_cond_broadcast(done)
        pthread_mutex_unlock(mutex)
        return value
    }
}
