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
/// hold the threads that serve the socket; each connection passes through a
/// `RequestLimiter` before NIOHTTP1's decoder.
public final class MetricsServer: Service {
    let options: MetricsOptions
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
        let scraper = self.scraper
        let open = NIOLockedValueBox(0)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 64)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            // At the TCP level: socketOption(.tcp_nodelay) is SOL_SOCKET's option 1, SO_DEBUG, which needs
            // CAP_NET_ADMIN (memd.service has none): every scrape's connection was closed at accept.
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                let admitted = open.withLockedValue { count -> Bool in
                    guard count < options.maxConnections else { return false }
                    count += 1
                    return true
                }
                guard admitted else { return channel.close() }
                channel.closeFuture.whenComplete { _ in open.withLockedValue { $0 -= 1 } }
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(
                        RequestLimiter(
                            maxBytes: options.maxRequestBytes,
                            timeout: MetricsOptions.amount(options.requestTimeoutSeconds),
                            idleTimeout: MetricsOptions.amount(options.idleTimeoutSeconds)
                        )
                    )
                    try sync.configureHTTPServerPipeline(withErrorHandling: true)
                    try sync.addHandler(MetricsHTTPHandler(scraper: scraper, threadPool: .singleton))
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
        try await withGracefulShutdownHandler {
            try await channel.closeFuture.get()
        } onGracefulShutdown: {
            channel.close(promise: nil)
        }
    }
}
