import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// The threads that do memd's waiting work — and every other step of a call that runs as a task —
/// shared per uid, not first come first served (limits.md §3, "Fair shares").
///
/// Each uid has a queue of its own. A free thread serves the uids with work queued in turn (a
/// round robin: a uid with work queued gets a thread before a second job of a busier uid), and no
/// uid holds more than `maxPerUID` threads at once, so whatever one uid queues — simulator calls on
/// all of its machines, watches over hundreds of its processes, `usage` — the other uids always
/// find a thread free. Within a uid, its connections (lanes) take turns the same way, so a watch
/// of its own is not starved behind the hundreds of simulator calls it queued on others. A job may block (a read of another process's /proc waits on its mmap lock;
/// a simulator call runs for seconds): it holds its thread, and counts against its uid's share.
///
/// The jobs are a call's task steps: every task memd starts for a call prefers its uid's
/// ``WaitingWork`` as its executor, so its CPU work never runs on Swift's cooperative pool (one
/// thread per core, shared by every call) nor on an event loop.
final class FairPool: @unchecked Sendable {
    enum Job {
        case task(UnownedJob, UnownedTaskExecutor)
        case body(() -> Void)
        /// Help a running job offered (``alongside``): nobody waits for it to start.
        case offered(() -> Void)
    }

    /// One uid's queued jobs: a queue per lane (a connection), served in turn.
    private struct Lanes {
        var queues: [ObjectIdentifier: CircularBuffer<Job>] = [:]
        var turns = CircularBuffer<ObjectIdentifier>()

        mutating func append(_ job: Job, lane: ObjectIdentifier) {
            if queues[lane] == nil { turns.append(lane) }
            queues[lane, default: []].append(job)
        }

        /// The next lane's first job; the lane goes to the back of the line if it has more.
        mutating func next() -> Job {
            let lane = turns.removeFirst()
            let job = queues[lane]!.removeFirst()
            if queues[lane]!.isEmpty { queues[lane] = nil } else { turns.append(lane) }
            return job
        }

        var count: Int { queues.values.reduce(0) { $0 + $1.count } }
    }

    private struct State {
        var queues: [UInt32: Lanes] = [:]
        var running: [UInt32: Int] = [:]
        /// Uids with work queued, in the order they get their next turn.
        var turns = CircularBuffer<UInt32>()
        var isStopping = false
        /// Threads waiting for work, and offered jobs queued: a job is offered only to an idle
        /// thread, so at most as many wait in the queues as threads were idle.
        var idle = 0
        var offered = 0
    }

    let threads: Int
    let maxPerUID: Int
    /// The pool threads' nice value, above the event loops' (0).
    static let niceness: Int32 = 5
    private var state = State()
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let workAvailable = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let pool: NIOThreadPool

    /// `threads` threads; one uid may hold at most `maxPerUID` of them (at least 1, at most all).
    init(threads: Int, maxPerUID: Int) {
        self.threads = max(1, threads)
        self.maxPerUID = min(max(1, maxPerUID), self.threads)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(workAvailable, nil)
        pool = NIOThreadPool(numberOfThreads: self.threads)
        pool.start()
        for _ in 0..<self.threads {
            pool.submit { [self] _ in serve() }
        }
    }

    deinit {
        pthread_cond_destroy(workAvailable)
        pthread_mutex_destroy(mutex)
        workAvailable.deallocate()
        mutex.deallocate()
    }

    /// The pool and uid whose job this thread is running (nil: not one of a pool's threads).
    static var current: Worker? { worker.currentValue }
    private nonisolated(unsafe) static let worker = ThreadSpecificVariable<Worker>()

    final class Worker {
        unowned let pool: FairPool
        var uid: UInt32 = 0
        init(pool: FairPool) { self.pool = pool }
    }

    /// A way to offer a job to another thread of the calling job's uid share, for work that may
    /// help the calling job and that it never waits for to start (reading ahead: ``PieceReader``).
    /// The job is queued only if a thread is idle, the uid is under its share and has no work of
    /// its own waiting: it counts against the uid's share like any other, never delays the uid's
    /// own calls, and offers cannot pile up. Otherwise it is dropped (the caller does the work).
    /// nil off a pool's threads.
    static var alongside: ((@escaping @Sendable () -> Void) -> Void)? {
        guard let worker = current else { return nil }
        let pool = worker.pool
        let uid = worker.uid
        return { body in pool.offer(body, uid: uid) }
    }

    /// The lane of a uid's offered jobs.
    private static let offersLane = ObjectIdentifier(Worker.self)

    private func offer(_ body: @escaping () -> Void, uid: UInt32) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        let lanes = state.queues[uid]
        guard state.idle > state.offered, state.running[uid, default: 0] < maxPerUID, !state.isStopping,
            lanes?.queues.keys.allSatisfy({ $0 == Self.offersLane }) ?? true  // none of its calls waits
        else { return }
        state.offered += 1
        if lanes == nil, !state.turns.contains(uid) { state.turns.append(uid) }
        state.queues[uid, default: Lanes()].append(.offered(body), lane: Self.offersLane)
        pthread_cond_signal(workAvailable)
    }

    /// Queues `job` for `uid`, in `lane` (its connection).
    func enqueue(_ job: Job, uid: UInt32, lane: ObjectIdentifier) {
        pthread_mutex_lock(mutex)
        if state.queues[uid] == nil, !state.turns.contains(uid) { state.turns.append(uid) }
        state.queues[uid, default: Lanes()].append(job, lane: lane)
        pthread_cond_signal(workAvailable)
        pthread_mutex_unlock(mutex)
    }

    /// Jobs queued and threads busy, per uid (for tests and memd's own health).
    var load: (queued: Int, running: Int) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return (state.queues.values.reduce(0) { $0 + $1.count }, state.running.values.reduce(0, +))
    }

    /// Threads waiting for work (for tests).
    var idleThreads: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return state.idle
    }

    /// One thread's life: take the next uid's job in turn, run it, until memd stops.
    private func serve() {
        // Below the event loops: they answer cheap calls in microseconds and must not wait for a
        // core behind a simulator call or the parse of a 1 MiB line (nice 5 takes ~1/3 the share).
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, FairPool.niceness)  // 0: this thread (Linux)
        let worker = Worker(pool: self)
        FairPool.worker.currentValue = worker
        defer { FairPool.worker.currentValue = nil }
        while let (uid, job) = next() {
            worker.uid = uid
            switch job {
            case .task(let job, let executor): job.runSynchronously(on: executor)
            case .body(let body), .offered(let body): body()
            }
            finished(uid)
        }
    }

    private func next() -> (UInt32, Job)? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while true {
            if state.isStopping { return nil }
            // The first uid in turn that is under its share; it goes to the back of the line.
            for _ in 0..<state.turns.count {
                let uid = state.turns.removeFirst()
                guard state.running[uid, default: 0] < maxPerUID else {
                    state.turns.append(uid)
                    continue
                }
                let job = state.queues[uid]!.next()
                if state.queues[uid]!.turns.isEmpty { state.queues[uid] = nil } else { state.turns.append(uid) }
                state.running[uid, default: 0] += 1
                if case .offered = job { state.offered -= 1 }
                return (uid, job)
            }
            state.idle += 1
            pthread_cond_wait(workAvailable, mutex)
            state.idle -= 1
        }
    }

    private func finished(_ uid: UInt32) {
        pthread_mutex_lock(mutex)
        let left = state.running[uid, default: 1] - 1
        state.running[uid] = left == 0 ? nil : left
        // A thread came free for this uid: one that waits for it may now go.
        if state.queues[uid] != nil { pthread_cond_broadcast(workAvailable) }
        pthread_mutex_unlock(mutex)
    }

    func shutdown() async throws {
        pthread_mutex_lock(mutex)
        state.isStopping = true
        pthread_cond_broadcast(workAvailable)
        pthread_mutex_unlock(mutex)
        try await pool.shutdownGracefully()
    }
}
