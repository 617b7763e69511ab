import MemdProtocol
import NIOCore

/// The HTTP listener's address and limits, each a `memd --metrics-…` flag.
///
/// The limits protect the Unix socket's clients from whoever can reach the
/// port: a request (head and any body) must arrive within `maxRequestBytes`
/// and `requestTimeout` from its first byte, a connection with nothing to say
/// is closed after `idleTimeout`, and at most `maxConnections` are open at once
/// (more are closed as soon as they are accepted).
public struct MetricsOptions: Sendable {
    public var listen: ListenAddress
    /// Bytes of one request, head and body together. Prometheus sends about 300.
    public var maxRequestBytes = 16 * 1024
    /// Seconds from a request's first byte until it has been answered.
    public var requestTimeoutSeconds: Double = 10
    /// Seconds a connection may stay open with no request started (keep-alive between scrapes).
    public var idleTimeoutSeconds: Double = 120
    public var maxConnections = 16

    public init(listen: ListenAddress) { self.listen = listen }
}

extension MetricsOptions {
    /// Seconds as NIO's time; callers check the range, this clamps to a day so it never traps.
    static func amount(_ seconds: Double) -> TimeAmount {
        .milliseconds(Int64((seconds.isFinite ? min(max(seconds, 0.001), 86_400) : 10) * 1000))
    }
}
