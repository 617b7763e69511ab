import NIOConcurrencyHelpers
import NIOCore

/// The open connections: counted against the limit, told when memd stops.
final class ConnectionRegistry: Sendable {
    private let channels = NIOLockedValueBox<[ObjectIdentifier: Channel]>([:])
    private let calls = NIOLockedValueBox<Int>(0)

    /// Calls running as tasks, on every connection.
    var inFlight: Int { calls.withLockedValue { $0 } }
    func callStarted() { calls.withLockedValue { $0 += 1 } }
    func callFinished() { calls.withLockedValue { $0 -= 1 } }

    /// Adds a connection unless `limit` are open already.
    func admit(_ channel: Channel, limit: Int) -> Bool {
        let admitted = channels.withLockedValue { open -> Bool in
            guard open.count < limit else { return false }
            open[ObjectIdentifier(channel)] = channel
            return true
        }
        if admitted {
            channel.closeFuture.whenComplete { [self] _ in
                channels.withLockedValue { _ = $0.removeValue(forKey: ObjectIdentifier(channel)) }
            }
        }
        return admitted
    }

    var count: Int { channels.withLockedValue { $0.count } }

    var all: [Channel] { channels.withLockedValue { Array($0.values) } }
}
