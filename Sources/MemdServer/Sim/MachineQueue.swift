import MMU
import NIOConcurrencyHelpers

/// The calls on one simulated machine, one at a time in arrival order, without holding a thread:
/// a call that waits is a suspended task (a continuation in the queue), not a blocked thread, so a
/// long `sim.touch` on a machine costs the other calls of memd nothing (limits.md §3).
final class MachineQueue: Sendable {
    private struct State {
        var isBusy = false
        var nextTicket = 0
        var waiters: [(ticket: Int, continuation: CheckedContinuation<Void, Error>)] = []
        /// Tickets cancelled before their continuation was queued.
        var cancelled: Set<Int> = []
    }

    private enum Admission { case go, wait, fail }

    private let state = NIOLockedValueBox(State())

    /// Waits for the machine (first come, first served); a cancelled waiter leaves the queue with
    /// `CancellationError`.
    func acquire() async throws {
        let ticket = state.withLockedValue { s -> Int in
            s.nextTicket += 1
            return s.nextTicket
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
                let admission = state.withLockedValue { s -> Admission in
                    if s.cancelled.remove(ticket) != nil { return .fail }
                    if !s.isBusy {
                        s.isBusy = true
                        return .go
                    }
                    s.waiters.append((ticket, c))
                    return .wait
                }
                switch admission {
                case .go: c.resume()
                case .fail: c.resume(throwing: CancellationError())
                case .wait: break
                }
            }
        } onCancel: {
            let waiter = state.withLockedValue { s -> CheckedContinuation<Void, Error>? in
                if let i = s.waiters.firstIndex(where: { $0.ticket == ticket }) {
                    return s.waiters.remove(at: i).continuation
                }
                s.cancelled.insert(ticket)
                return nil
            }
            waiter?.resume(throwing: CancellationError())
        }
        // A cancel that came after the machine was handed over leaves a mark: drop it.
        state.withLockedValue { _ = $0.cancelled.remove(ticket) }
    }

    /// Hands the machine to the next waiter, or marks it free.
    func release() {
        let next = state.withLockedValue { s -> CheckedContinuation<Void, Error>? in
            guard !s.waiters.isEmpty else {
                s.isBusy = false
                return nil
            }
            return s.waiters.removeFirst().continuation
        }
        next?.resume()
    }
}
