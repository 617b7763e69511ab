import NIOConcurrencyHelpers

/// The calls of one connection that `$/cancelRequest` can reach, by request id.
///
/// A batch's members are known before they run (`expect`): a cancel that arrives for one of them
/// before it starts is remembered, and it is answered -32006 without running. Shared by the event
/// loop (cancels) and the tasks that run the calls, so it is locked.
final class CallTable: Sendable {
    private enum State {
        case pending(isCancelled: Bool)
        case running(cancel: @Sendable () -> Void)
    }

    private let calls = NIOLockedValueBox<[String: State]>([:])

    /// Calls that will run soon (a batch's members).
    func expect(_ keys: [String]) {
        calls.withLockedValue { calls in
            for key in keys where calls[key] == nil { calls[key] = .pending(isCancelled: false) }
        }
    }

    /// Marks `key` running, cancelled by `cancel`; false if it was cancelled before it started.
    func start(_ key: String, cancel: @escaping @Sendable () -> Void) -> Bool {
        calls.withLockedValue { calls in
            if case .pending(isCancelled: true)? = calls[key] {
                calls[key] = nil
                return false
            }
            calls[key] = .running(cancel: cancel)
            return true
        }
    }

    func end(_ key: String) {
        calls.withLockedValue { _ = $0.removeValue(forKey: key) }
    }

    /// Cancels the call with this key if it is running or expected; an unknown key is ignored.
    func cancel(_ key: String) {
        let cancel: (@Sendable () -> Void)? = calls.withLockedValue { calls in
            switch calls[key] {
            case .running(let cancel)?: return cancel
            case .pending?:
                calls[key] = .pending(isCancelled: true)
                return nil
            case nil: return nil
            }
        }
        cancel?()
    }
}
