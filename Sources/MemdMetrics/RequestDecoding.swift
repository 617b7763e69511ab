import HTTPLimits
import NIOCore
import NIOHTTP1

extension ChannelPipeline.SynchronousOperations {
    /// The handlers that read a /metrics request's bytes, as MetricsServer adds them: the raw-byte
    /// limiter, then NIOHTTP1's decoder with its error handler (400 for what it refuses). For the
    /// metrics_head fuzz target, which puts its own handler after them.
    package func addMetricsRequestDecoding(
        maxBytes: Int,
        timeout: TimeAmount,
        idleTimeout: TimeAmount,
        slots: ConnectionSlots? = nil
    ) throws {
        try addHandler(RequestLimiter(maxBytes: maxBytes, timeout: timeout, idleTimeout: idleTimeout, watcher: slots))
        try configureHTTPServerPipeline(withErrorHandling: true)
    }
}
