import HTTPLimits
import MemdProtocol
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// The lab's HTTP server (`memctl web`): serves the page and bridges `/rpc`
/// WebSockets to memd's socket. It runs inside memctl with the rights of the
/// user who started it; memd gains no door.
public final class LabServer: Sendable {
    public let options: LabOptions
    public let token: LabToken
    private let group: MultiThreadedEventLoopGroup
    private let channel: Channel
    /// Where the lab was bound (port 0 becomes the port the kernel chose).
    public let address: ListenAddress
    /// Whether only this machine can connect (a 127/8 or ::1 address).
    public let isLoopback: Bool

    /// Binds and starts serving; `token` is new for each run unless given (tests).
    public init(options: LabOptions, token: LabToken = LabToken()) throws {
        self.options = options
        self.token = token
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.group = group
        let settings = Settings(options: options, token: token)
        do {
            channel = try ServerBootstrap(group: group)
                .serverChannelOption(ChannelOptions.backlog, value: 64)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                // At the TCP level: socketOption(.tcp_nodelay) would be SOL_SOCKET's option 1, SO_DEBUG,
                // which only CAP_NET_ADMIN may set, so every connection of a lab run by a user was dropped.
                .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in settings.initialize(channel) }
                .bind(host: options.listen.host, port: options.listen.port)
                .wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
        let bound = channel.localAddress
        let port = bound?.port ?? options.listen.port
        let ip = bound?.ipAddress ?? options.listen.host
        address = ListenAddress(host: ip, port: port)
        isLoopback = address.isLoopback
        var hosts: Set<String> = [address.description.lowercased()]
        hosts.insert(ListenAddress(host: options.listen.host, port: port).description.lowercased())
        if isLoopback { hosts.insert("localhost:\(port)") }
        settings.gate.withLockedValue { $0 = LabGate(token: token, hosts: hosts, port: port) }
    }

    /// The address to open: the listening address with the token.
    public var url: String { "http://\(address)/?token=\(token.text)" }

    /// Blocks until the server is closed.
    public func wait() throws {
        try channel.closeFuture.wait()
        try group.syncShutdownGracefully()
    }

    public func close() throws {
        try channel.close().wait()
        try group.syncShutdownGracefully()
    }
}

/// What every connection is set up with; the gate is known once the port is.
private final class Settings: Sendable {
    let options: LabOptions
    let gate: NIOLockedValueBox<LabGate>
    let assets = LabAssets()
    let sockets: WebSocketSlots
    let connections = NIOLockedValueBox(0)

    init(options: LabOptions, token: LabToken) {
        self.options = options
        self.gate = NIOLockedValueBox(LabGate(token: token, hosts: [], port: options.listen.port))
        self.sockets = WebSocketSlots(limit: options.maxWebSockets)
    }

    func initialize(_ channel: Channel) -> EventLoopFuture<Void> {
        let admitted = connections.withLockedValue { count -> Bool in
            guard count < self.options.maxConnections else { return false }
            count += 1
            return true
        }
        guard admitted else { return channel.close() }
        channel.closeFuture.whenComplete { _ in self.connections.withLockedValue { $0 -= 1 } }
        let gate = self.gate.withLockedValue { $0 }
        let options = self.options
        let sockets = self.sockets
        let upgrader = NIOWebSocketServerUpgrader(
            maxFrameSize: options.maxMessageBytes,
            shouldUpgrade: { channel, head in
                guard gate.checkUpgrade(LabGate.Request(head)) == .allowed, sockets.take() else {
                    // Not upgraded: LabHTTPHandler answers the request with why.
                    return channel.eventLoop.makeSucceededFuture(nil)
                }
                channel.closeFuture.whenComplete { _ in sockets.giveBack() }
                return channel.eventLoop.makeSucceededFuture(HTTPHeaders())
            },
            upgradePipelineHandler: { channel, _ in
                channel.pipeline.removeHandler(name: RequestLimiter.name).flatMap {
                    RPCBridge.attach(to: channel, options: options)
                }
            }
        )
        return channel.eventLoop.makeCompletedFuture {
            let sync = channel.pipeline.syncOperations
            try sync.addHandler(
                RequestLimiter(
                    maxBytes: options.maxHeadBytes,
                    timeout: .seconds(options.headTimeoutSeconds),
                    idleTimeout: .seconds(options.idleTimeoutSeconds)
                ),
                name: RequestLimiter.name
            )
            let handler = LabHTTPHandler(gate: gate, assets: assets, sockets: sockets)
            try sync.configureHTTPServerPipeline(
                withServerUpgrade: (
                    upgraders: [upgrader],
                    completionHandler: { context in
                        context.pipeline.syncOperations.removeHandler(name: LabHTTPHandler.name, promise: nil)
                    }
                ),
                withErrorHandling: true
            )
            try sync.addHandler(handler, name: LabHTTPHandler.name)
        }
    }
}
