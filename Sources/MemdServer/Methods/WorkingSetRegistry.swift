import JSONRPC
import NIOConcurrencyHelpers

/// The `workingSet` calls running in memd: at most ``perUIDLimit`` in flight per uid other than
/// root (-32003 `workingSets`, waiting ones included), one measurement per target process at a
/// time host-wide (two would clear each other's bits: a second waits its turn, first come first
/// served, and can be cancelled while it waits), and how `workingSet.stop` reaches one.
final class WorkingSetRegistry: Sendable {
    static let perUIDLimit = 4

    private struct Waiter {
        var ticket: UInt64
        var continuation: CheckedContinuation<Void, Error>
    }

    private struct State {
        var perUID: [UInt32: Int] = [:]
        var running: [WatchRegistry.Key: WatchStop] = [:]
        /// Processes being measured; each with the calls waiting for it, in order.
        var busy: [Int32: [Waiter]] = [:]
        var nextTicket: UInt64 = 0
    }

    private let state = NIOLockedValueBox(State())

    /// Counts a new call of `peer`, or refuses it.
    func start(_ peer: PeerCredentials, id: JSON) throws(RPCError) -> WatchStop {
        let key = WatchRegistry.key(peer, id: id)
        let stop = WatchStop()
        let refusal: RPCError? = state.withLockedValue { state in
            let count = state.perUID[peer.uid, default: 0]
            if !peer.isRoot, count >= Self.perUIDLimit {
                return .resourceLimit("workingSets", limit: Self.perUIDLimit, requested: count + 1)
            }
            if state.running[key] != nil {
                return .invalidRequest("a workingSet with id \(key.id) is already running for this client")
            }
            state.perUID[peer.uid] = count + 1
            state.running[key] = stop
            return nil
        }
        if let refusal { throw refusal }
        return stop
    }

    func end(_ peer: PeerCredentials, id: JSON) {
        let key = WatchRegistry.key(peer, id: id)
        state.withLockedValue { state in
            guard state.running.removeValue(forKey: key) != nil else { return }
            let count = state.perUID[peer.uid, default: 1] - 1
            state.perUID[peer.uid] = count > 0 ? count : nil
        }
    }

    /// Asks the call `id` of `peer` to end with the samples so far; false if there is none.
    func stop(_ peer: PeerCredentials, id: JSON) -> Bool {
        guard let stop = state.withLockedValue({ $0.running[WatchRegistry.key(peer, id: id)] }) else { return false }
        stop.stop()
        return true
    }

    /// Waits until no other call measures `pid`, then holds it until ``release(_:)``.
    /// Throws `CancellationError` when the task is cancelled while it waits.
    func acquire(_ pid: Int32) async throws {
        let ticket = state.withLockedValue { state in
            defer { state.nextTicket += 1 }
            return state.nextTicket
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                enum Now { case go, wait, cancelled }
                let now = state.withLockedValue { state -> Now in
                    if Task.isCancelled { return .cancelled }
                    guard state.busy[pid] != nil else {
                        state.busy[pid] = []
                        return .go
                    }
                    state.busy[pid, default: []].append(Waiter(ticket: ticket, continuation: continuation))
                    return .wait
                }
                switch now {
                case .go: continuation.resume()
                case .cancelled: continuation.resume(throwing: CancellationError())
                case .wait: break
                }
            }
        } onCancel: {
            let waiter = state.withLockedValue { state -> Waiter? in
                guard let index = state.busy[pid]?.firstIndex(where: { $0.ticket == ticket }) else { return nil }
                return state.busy[pid]?.remove(at: index)
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Ends the measurement of `pid`: the next call waiting for it (if any) holds it now.
    func release(_ pid: Int32) {
        let next = state.withLockedValue { state -> Waiter? in
            guard var waiting = state.busy[pid] else { return nil }
            guard !waiting.isEmpty else {
                state.busy[pid] = nil
                return nil
            }
            let next = waiting.removeFirst()
            state.busy[pid] = waiting
            return next
        }
        next?.continuation.resume()
    }

    /// Calls counted now (running or waiting).
    var count: Int { state.withLockedValue { $0.running.count } }
}
