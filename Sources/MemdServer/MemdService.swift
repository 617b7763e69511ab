import JSONRPC
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// memd as a `Service`: listens on the Unix socket until a graceful shutdown
/// (SIGTERM/SIGINT through its `ServiceGroup`), then stops accepting, lets calls
/// in flight finish for a moment, cancels the rest (experiment children die with
/// them), and removes the socket file.
public final class MemdService: Service {
    let config: ServerConfig
    let dispatcher: Dispatcher
    let logger: Logger
    let group: EventLoopGroup
    let registry = ConnectionRegistry()

    public init(
        config: ServerConfig,
        methods: MethodTable<CallContext>,
        logger: Logger,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.config = config
        self.dispatcher = Dispatcher(
            methods: methods,
            logger: logger,
            pool: FairPool(threads: config.waitingThreads, maxPerUID: config.maxThreadsPerUID),
            unsent: UnsentBytes(maxResponseBytes: config.maxResponseBytes, whenDrained: MemdService.giveBackMemory),
            maxResponseBytes: config.maxResponseBytes,
            health: config.health
        )
        self.logger = logger
        self.group = group
    }

    public func run() async throws {
        let path = config.socketPath
        try SocketFile.prepare(path)
        let server = try await bind(path)
        let identity = SocketFile.identity(path)
        defer { SocketFile.remove(path, ifStill: identity) }
        logger.info("memd listening", metadata: ["socket": "\(path)", "pid": "\(getpid())"])

        try await withGracefulShutdownHandler {
            try await server.closeFuture.get()
        } onGracefulShutdown: {
            server.close(promise: nil)
        }
        await drain()
        logger.info("memd stopped")
    }

    private func bind(_ path: String) async throws -> Channel {
        // The file is born 0600 (umask), then widened if asked: never a moment open to all.
        let previous = umask(0o177)
        defer { umask(previous) }
        let config = self.config
        let dispatcher = self.dispatcher
        let logger = self.logger
        let registry = self.registry
        let turns = try await LoopTurns.make(for: group)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            // One read (≤ 64 KiB) per connection per turn of the loop: what a turn decodes is bounded.
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 1)
            .childChannelOption(
                ChannelOptions.writeBufferWaterMark,
                value: .init(low: config.maxUnsentBytes / 2, high: config.maxUnsentBytes)
            )
            .childChannelInitializer { channel in
                PeerCredentials.of(channel).flatMapThrowing { peer in
                    if let refusal = registry.admit(channel, uid: peer.uid, config: config) {
                        try channel.pipeline.syncOperations.addHandler(Refusal(Response.error(id: .null, refusal)))
                        return
                    }
                    var connectionLogger = logger
                    connectionLogger[metadataKey: "peer"] = "pid=\(peer.pid) uid=\(peer.uid)"
                    try channel.pipeline.syncOperations.addHandler(
                        Connection(
                            dispatcher: dispatcher,
                            peer: peer,
                            config: config,
                            logger: connectionLogger,
                            registry: registry,
                            turns: turns[ObjectIdentifier(channel.eventLoop)]
                        )
                    )
                }
            }
            .bind(unixDomainSocketPath: path)
            .get()
        if config.socketMode != 0o600, !SocketFile.setMode(path, config.socketMode) {
            logger.warning(
                "could not set the socket's mode",
                metadata: ["mode": "\(String(config.socketMode, radix: 8))"]
            )
        }
        return channel
    }

    /// Returns the heap's free pages to the system (glibc keeps them in its arenas otherwise): called
    /// once the responses of clients that did not read are gone, so memd's RSS comes back down.
    @Sendable static func giveBackMemory() {
        NIOThreadPool.singleton.submit { _ in Heap.giveBack() }
    }

    /// Finishes or cancels what is in flight, then closes every connection.
    private func drain() async {
        let deadline = ContinuousClock.now + .milliseconds(Int(config.shutdownGraceSeconds * 1000))
        while registry.inFlight > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for channel in registry.all {
            channel.pipeline.fireUserInboundEventTriggered(ShutdownRequested())
        }
        let cancelDeadline = ContinuousClock.now + .milliseconds(300)
        while registry.inFlight > 0, ContinuousClock.now < cancelDeadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        for channel in registry.all {
            try? await channel.close()
        }
    }
}

/// Over the connection limit: one -32003 error, then the connection is closed.
final class Refusal: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func channelActive(context: ChannelHandlerContext) {
        let loopContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(bytes: bytes))).whenComplete { _ in
            loopContext.value.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
