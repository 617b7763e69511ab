import NIOConcurrencyHelpers

/// The response bytes each uid's clients have not read yet: written to their connections but not
/// yet taken by the kernel, or held while a connection is over its mark (limits.md §3,
/// "Backpressure covers every write").
///
/// While a uid's count is over `pauseAbove` (`--max-response-bytes`), memd starts none of its
/// calls and reads none of its connections; a response that would take it past `limit`
/// (4 × `--max-response-bytes`) is replaced by `-32003 unsentBytes`. So a uid whose clients never
/// read holds at most `limit` of memd's memory in responses, however many connections, lines and
/// calls it sends. Its connections wait here to be told when it drops back.
final class UnsentBytes: Sendable {
    private struct Account {
        var bytes = 0
        /// Connections of this uid paused on this count, each with how to wake it.
        var waiting: [ObjectIdentifier: @Sendable () -> Void] = [:]
    }

    let pauseAbove: Int
    let limit: Int
    private let accounts = NIOLockedValueBox<[UInt32: Account]>([:])

    init(maxResponseBytes: Int) {
        pauseAbove = maxResponseBytes
        limit = maxResponseBytes.multipliedReportingOverflow(by: 4).overflow ? .max : maxResponseBytes * 4
    }

    /// Counts `bytes` more for `uid` if that keeps it within the limit; false (nothing counted) if not.
    func take(_ bytes: Int, uid: UInt32) -> Bool {
        accounts.withLockedValue { accounts in
            let now = accounts[uid]?.bytes ?? 0
            guard bytes <= limit - now else { return false }
            accounts[uid, default: Account()].bytes = now + bytes
            return true
        }
    }

    /// Counts `bytes` for `uid` whatever the limit (a small error line that replaces a response).
    func force(_ bytes: Int, uid: UInt32) {
        accounts.withLockedValue { $0[uid, default: Account()].bytes += bytes }
    }

    /// `bytes` of `uid` were read by its client (or dropped with its connection); wakes the uid's
    /// paused connections when it drops back to `pauseAbove` or below.
    func sent(_ bytes: Int, uid: UInt32) {
        let wake = accounts.withLockedValue { accounts -> [@Sendable () -> Void] in
            guard var account = accounts[uid] else { return [] }
            let wasOver = account.bytes > pauseAbove
            account.bytes -= bytes
            var wake: [@Sendable () -> Void] = []
            if wasOver, account.bytes <= pauseAbove {
                wake = Array(account.waiting.values)
                account.waiting = [:]
            }
            accounts[uid] = account.bytes == 0 && account.waiting.isEmpty ? nil : account
            return wake
        }
        for w in wake { w() }
    }

    /// Unsent bytes of `uid`.
    func bytes(of uid: UInt32) -> Int { accounts.withLockedValue { $0[uid]?.bytes ?? 0 } }

    /// True if `uid` is over `pauseAbove`: then `wake` is kept, and called once it drops back.
    func isPaused(_ uid: UInt32, connection: ObjectIdentifier, wake: @escaping @Sendable () -> Void) -> Bool {
        accounts.withLockedValue { accounts in
            guard let account = accounts[uid], account.bytes > pauseAbove else { return false }
            accounts[uid]!.waiting[connection] = wake
            return true
        }
    }

    /// A connection that closes stops waiting.
    func forget(_ uid: UInt32, connection: ObjectIdentifier) {
        accounts.withLockedValue { accounts in
            guard var account = accounts[uid] else { return }
            account.waiting[connection] = nil
            accounts[uid] = account.bytes == 0 && account.waiting.isEmpty ? nil : account
        }
    }
}
