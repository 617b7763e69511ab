import JSONRPC
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// memd as a `Service`: listens on the Unix socket until a graceful shutdown
/// (SIGTERM/SIGINT through its `ServiceGroup`), then stops accepting, lets calls
/// in flight finish for a moment, cancels the rest (experiment children die with
/// them), and removes the socket file (unless systemd passed it: then the file is systemd's).
public final class MemdService: Service {
    let config: ServerConfig
    let dispatcher: Dispatcher
    let logger: Logger
    let group: EventLoopGroup
    let registry = ConnectionRegistry()
    /// The socket systemd passed, served instead of binding `config.socketPath`.
    let passedSocket: SocketActivation?
    /// Where READY=1, STOPPING=1 and watchdog pings go (`Type=notify`).
    let notify: SystemdNotify?

    public init(
        config: ServerConfig,
        methods: MethodTable<CallContext>,
        logger: Logger,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        passedSocket: SocketActivation? = nil,
        notify: SystemdNotify? = nil
    ) {
        self.config = config
        self.passedSocket = passedSocket
        self.notify = notify
        self.dispatcher = Dispatcher(
            methods: methods,
            logger: logger,
            pool: FairPool(threads: config.waitingThreads, maxPerUID: config.maxThreadsPerUID),
            unsent: UnsentBytes(maxResponseBytes: config.maxResponseBytes),
            maxResponseBytes: config.maxResponseBytes,
            health: config.health
        )
        self.logger = logger
        self.group = group
    }

    /// Serves until a graceful shutdown; on every way out — a refusal to start (another memd on the
    /// socket, a bind that fails) as well as a shutdown — the pool's threads end too (LeakSanitizer
    /// found the pool's queue at exit when `serve()` threw before its end).
    public func run() async throws {
        do {
            try await serve()
        } catch {
            try? await dispatcher.pool.shutdown()
            throw error
        }
        try? await dispatcher.pool.shutdown()
        logger.info("memd stopped")
    }

    private func serve() async throws {
        let server: Channel
        let path: String
        var ownFile: (path: String, identity: (UInt64, UInt64)?)?
        if let passedSocket {
            // systemd's socket: served as it is, never bound, chmodded or unlinked by memd.
            server = try await bootstrap().withBoundSocket(passedSocket.descriptor).get()
            path = passedSocket.path ?? config.socketPath
            logger.info(
                "memd listening on the socket from systemd",
                metadata: [
                    "socket": "\(path)", "fd": "\(passedSocket.descriptor)", "name": "\(passedSocket.name ?? "")",
                    "pid": "\(getpid())",
                ]
            )
        } else {
            path = config.socketPath
            try SocketFile.prepare(path)
            server = try await bind(path)
            ownFile = (path, SocketFile.identity(path))
            logger.info("memd listening", metadata: ["socket": "\(path)", "pid": "\(getpid())"])
        }
        defer {
            if let ownFile { SocketFile.remove(ownFile.path, ifStill: ownFile.identity) }
        }
        let watchdog = startWatchdog(on: server.eventLoop)
        let givingBack = startGivingBack(on: server.eventLoop)
        notify?.send("READY=1\nSTATUS=Listening on \(path)")

        // Closed on a graceful shutdown, and when the group is cancelled (another service threw).
        let notify = self.notify
        try await withTaskCancellationOrGracefulShutdownHandler {
            try await server.closeFuture.get()
        } onCancelOrGracefulShutdown: {
            notify?.send("STOPPING=1")
            server.close(promise: nil)
        }
        await drain()
        watchdog?.cancel()
        givingBack.cancel()
    }

    /// `WATCHDOG=1` every half of `$WATCHDOG_USEC`, from the listening socket's event loop: a ping
    /// says that loop still turns.
    private func startWatchdog(on loop: EventLoop) -> RepeatedTask? {
        guard let notify, let interval = notify.watchdogIntervalMicroseconds else { return nil }
        return loop.scheduleRepeatedTask(initialDelay: .zero, delay: .microseconds(interval)) { _ in
            notify.send("WATCHDOG=1")
        }
    }

    private func bind(_ path: String) async throws -> Channel {
        // The file is born with its mode (umask): no chmod of a path afterwards. Nothing else
        // makes files while memd binds: no call is served yet.
        let previous = umask(SocketFile.creationMask(for: config.socketMode))
        defer { umask(previous) }
        return try await bootstrap().bind(unixDomainSocketPath: path).get()
    }

    /// The listener's options and each connection's pipeline, whoever made the socket.
    private func bootstrap() async throws -> ServerBootstrap {
        let config = self.config
        let dispatcher = self.dispatcher
        let logger = self.logger
        let registry = self.registry
        let turns = try await LoopTurns.make(for: group)
        return ServerBootstrap(group: group)
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
    }

    /// Once a second, off the event loops: the heap's free pages go back to the system while memd
    /// holds more than ``Heap/slack`` beyond the least it has held (the replies of clients that
    /// have gone, a big `maps`), so its RSS comes back down within a second or two of every burst.
    private func startGivingBack(on loop: EventLoop) -> RepeatedTask {
        let least = NIOLockedValueBox(Int.max)
        return loop.scheduleRepeatedAsyncTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            NIOThreadPool.singleton.runIfActive(eventLoop: loop) {
                least.withLockedValue { $0 = Heap.giveBack(least: $0) }
            }
        }
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
