import MemdProtocol

/// Where `memctl web` listens, which memd it bridges to, and its limits (web.md §1).
public struct LabOptions: Sendable {
    public var listen: ListenAddress
    /// memd's Unix socket; each WebSocket is one connection to it, made as the
    /// user who runs the lab.
    public var socketPath: String
    /// Bytes of one request head (and any body) before the connection is cut.
    public var maxHeadBytes = 16 * 1024
    /// Seconds from a request's first byte until it must be complete.
    public var headTimeoutSeconds: Int64 = 10
    /// Seconds a connection may stay open with no request under way.
    public var idleTimeoutSeconds: Int64 = 60
    /// WebSockets open at once; more are refused with 503.
    public var maxWebSockets = 16
    /// TCP connections open at once (page loads beside the WebSockets); more are closed.
    public var maxConnections = 48
    /// One JSON-RPC message from the browser (memd's own request limit is 1 MiB).
    public var maxMessageBytes = 1 << 20
    /// One line from memd (a maps answer of a process with 60,000 mappings is ~15 MB).
    public var maxLineBytes = 256 << 20

    public init(listen: ListenAddress, socketPath: String) {
        self.listen = listen
        self.socketPath = socketPath
    }
}
