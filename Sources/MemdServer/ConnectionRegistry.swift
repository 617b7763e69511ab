import JSONRPC
import NIOConcurrencyHelpers
import NIOCore

/// The open connections: counted against the limits (in all, and per uid other than root), told
/// when memd stops.
final class ConnectionRegistry: Sendable {
    private struct Open {
        var channel: Channel
        var uid: UInt32
    }

    private let channels = NIOLockedValueBox<[ObjectIdentifier: Open]>([:])
    private let calls = NIOLockedValueBox<Int>(0)

    /// Calls running as tasks, on every connection.
    var inFlight: Int { calls.withLockedValue { $0 } }
    func callStarted() { calls.withLockedValue { $0 += 1 } }
    func callFinished() { calls.withLockedValue { $0 -= 1 } }

    /// Adds a connection; over a limit, the error to send it instead (then it is closed).
    func admit(_ channel: Channel, uid: UInt32, config: ServerConfig) -> RPCError? {
        let refusal = channels.withLockedValue { open -> RPCError? in
            guard open.count < config.maxConnections else {
                return .resourceLimit(
                    "connections",
                    limit: config.maxConnections,
                    requested: config.maxConnections + 1
                )
            }
            if uid != 0 {
                let mine = open.values.reduce(0) { $0 + ($1.uid == uid ? 1 : 0) }
                guard mine < config.maxConnectionsPerUID else {
                    return .resourceLimit("connections", limit: config.maxConnectionsPerUID, requested: mine + 1)
                }
            }
            open[ObjectIdentifier(channel)] = Open(channel: channel, uid: uid)
            return nil
        }
        if refusal == nil {
            config.health?.connectionOpened()
            channel.closeFuture.whenComplete { [self] _ in
                channels.withLockedValue { _ = $0.removeValue(forKey: ObjectIdentifier(channel)) }
                config.health?.connectionClosed()
            }
        }
        return refusal
    }

    var count: Int { channels.withLockedValue { $0.count } }

    var all: [Channel] { channels.withLockedValue { $0.values.map(\.channel) } }
}
