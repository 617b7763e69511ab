import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// The HTTP listener of `memd --metrics-listen`, a `Service` beside the Unix
/// socket's: binds where it is told, serves `GET /metrics`, and stops with
/// memd's graceful shutdown.
///
/// It runs on an event loop of its own, so whatever reaches the port cannot
/// hold the threads that serve the socket. Each connection takes one of the
/// `ConnectionSlots` (per-peer cap, longest-idle eviction) and passes through a
/// `RequestLimiter` before NIOHTTP1's decoder (limits.md §6).
public final class MetricsServer: Service {
    let options: MetricsOptions
    /// SO_SNDBUF of each connection: a few /metrics bodies (about 45 KiB each).
    static let sendBufferBytes: SocketOptionValue = 64 * 1024
    let scraper: Scraper
    let logger: Logger
    private let bound = NIOLockedValueBox<SocketAddress?>(nil)

    public init(options: MetricsOptions, scraper: Scraper, logger: Logger) {
        self.options = options
        self.scraper = scraper
        self.logger = logger
    }

    /// The address bound, once `run()` has bound it (port 0 gives a free one).
    public var localAddress: SocketAddress? { bound.withLockedValue { $0 } }

    public func run() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            try await serve(on: group)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
    }

    private func serve(on group: EventLoopGroup) async throws {
        let options = self.options
        let renders = SharedRenders(scraper: scraper, threadPool: .singleton)
        let slots = ConnectionSlots(maxConnections: options.maxConnections, maxPerPeer: options.maxConnectionsPerPeer)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 64)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            // At the TCP level: socketOption(.tcp_nodelay) is SOL_SOCKET's option 1, SO_DEBUG, which needs
            // CAP_NET_ADMIN (memd.service has none): every scrape's connection was closed at accept.
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            // A fixed send buffer (the kernel doubles it: 128 KiB), not autotuned up to tcp_wmem's
            // 4 MiB: a response counts as sent once the kernel holds it, so this bounds how many
            // responses a client that never reads gets scraped for (a few, then none).
            .childChannelOption(ChannelOptions.socketOption(.so_sndbuf), value: Self.sendBufferBytes)
            .childChannelInitializer { channel in
                guard slots.admit(channel) else { return channel.close() }
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addMetricsRequestDecoding(
                        maxBytes: options.maxRequestBytes,
                        timeout: MetricsOptions.amount(options.requestTimeoutSeconds),
                        idleTimeout: MetricsOptions.amount(options.idleTimeoutSeconds),
                        slots: slots
                    )
                    try sync.addHandler(MetricsHTTPHandler(renders: renders))
                }
            }
            .bind(host: options.listen.host, port: options.listen.port)
            .get()
        bound.withLockedValue { $0 = channel.localAddress }
        logger.notice(
            "metrics listening",
            metadata: [
                "address": "\(channel.localAddress.map { "\($0)" } ?? "\(options.listen)")",
                "port": "\(channel.localAddress?.port ?? options.listen.port)",
            ]
        )
        // Closed on a graceful shutdown, and when the group is cancelled (another service threw).
        try await withTaskCancellationOrGracefulShutdownHandler {
            try await channel.closeFuture.get()
        } onCancelOrGracefulShutdown: {
            channel.close(promise: nil)
        }
    }
}
