import Dispatch
import JSONRPC
import MemdMetrics
import NIOConcurrencyHelpers

/// The watches running in memd: how many each uid has (at most `limit` for a uid other than
/// root, -32003 `watches`), and how `watch.stop` reaches one.
///
/// A watch is found by its client (the peer's pid and uid, from SO_PEERCRED) and its request
/// id: `CallContext` names no connection, so a client process with two connections can stop
/// its own watch from either; no other client can reach it.
final class WatchRegistry: Sendable {
    struct Key: Hashable {
        var uid: UInt32
        var clientPID: Int32
        var id: String
    }

    private struct State {
        var perUID: [UInt32: Int] = [:]
        var running: [Key: WatchStop] = [:]
    }

    let limit: Int
    /// memd's own counters (`memd_watches` on /metrics); nil: not kept.
    let health: HealthMetrics?
    private let state = NIOLockedValueBox(State())

    init(limit: Int, health: HealthMetrics? = nil) {
        self.limit = limit
        self.health = health
    }

    static func key(_ peer: PeerCredentials, id: JSON) -> Key {
        Key(uid: peer.uid, clientPID: peer.pid, id: JSONWriter.string(id))
    }

    /// Counts a new watch of `peer`, or refuses it.
    func start(_ peer: PeerCredentials, id: JSON) throws(RPCError) -> WatchStop {
        let key = Self.key(peer, id: id)
        let stop = WatchStop()
        let refusal: RPCError? = state.withLockedValue { state in
            let count = state.perUID[peer.uid, default: 0]
            if !peer.isRoot, count >= limit {
                return .resourceLimit("watches", limit: limit, requested: count + 1)
            }
            if state.running[key] != nil {
                return .invalidRequest("a watch with id \(key.id) is already running for this client")
            }
            state.perUID[peer.uid] = count + 1
            state.running[key] = stop
            return nil
        }
        if let refusal { throw refusal }
        health?.watchStarted()
        return stop
    }

    func end(_ peer: PeerCredentials, id: JSON) {
        let key = Self.key(peer, id: id)
        let ended = state.withLockedValue { state -> Bool in
            guard state.running.removeValue(forKey: key) != nil else { return false }
            let count = state.perUID[peer.uid, default: 1] - 1
            state.perUID[peer.uid] = count > 0 ? count : nil
            return true
        }
        if ended { health?.watchEnded() }
    }

    /// Asks the watch `id` of `peer` to end; false if there is none.
    func stop(_ peer: PeerCredentials, id: JSON) -> Bool {
        guard let stop = state.withLockedValue({ $0.running[Self.key(peer, id: id)] }) else { return false }
        stop.stop()
        return true
    }

    var count: Int { state.withLockedValue { $0.running.count } }
}

/// How a watch is ended early by `watch.stop`, and how it sleeps until its next sample
/// (woken at once by a stop or a cancel).
final class WatchStop: Sendable {
    private struct State {
        var isStopped = false
        var waiter: CheckedContinuation<Void, Never>?
        /// Counts sleeps: a timer set for an earlier sleep wakes no later one.
        var sleeps: UInt64 = 0
    }

    private let state = NIOLockedValueBox(State())

    var isStopped: Bool { state.withLockedValue { $0.isStopped } }

    func stop() {
        state.withLockedValue { $0.isStopped = true }
        wake()
    }

    /// Resumes the sleeper (only the sleep `sleep` when given: that sleep's timer).
    private func wake(sleep: UInt64? = nil) {
        let waiter = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            if let sleep, sleep != state.sleeps { return nil }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Sleeps until `deadline`, or less if the watch is stopped or its task cancelled: one
    /// continuation, resumed by one dispatch timer or by `stop()` or the cancel, whichever comes
    /// first (a task group of a sleeping and a waiting child cost two tasks, their hops between
    /// threads and a cancellation every sample).
    func sleep(until deadline: ContinuousClock.Instant) async {
        let (seconds, attoseconds) = ContinuousClock.now.duration(to: deadline).components
        let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
        guard nanoseconds > 0 else { return }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let sleep = state.withLockedValue { state -> UInt64? in
                    if state.isStopped || Task.isCancelled { return nil }
                    state.sleeps &+= 1
                    state.waiter = continuation
                    return state.sleeps
                }
                guard let sleep else {
                    continuation.resume()
                    return
                }
                DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) { [weak self] in
                    self?.wake(sleep: sleep)
                }
            }
        } onCancel: {
            wake()
        }
    }
}
