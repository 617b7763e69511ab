import NIOConcurrencyHelpers

/// How many lab WebSockets are open, against the limit: a slot is taken when an
/// upgrade is accepted and given back when that connection closes.
final class WebSocketSlots: Sendable {
    let limit: Int
    private let open = NIOLockedValueBox(0)

    init(limit: Int) { self.limit = limit }

    /// Takes a slot, or answers false when all are taken.
    func take() -> Bool {
        open.withLockedValue { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
    }

    func giveBack() { open.withLockedValue { $0 -= 1 } }

    var isFull: Bool { open.withLockedValue { $0 >= limit } }
}
