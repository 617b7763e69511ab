import JSONRPC
import Logging

/// What a method handler knows about the call: who asked (from the socket, not
/// the request), which request it is, and how to send notifications back.
public struct CallContext: Sendable {
    public let peer: PeerCredentials
    /// The request's id (null for a notification).
    public let requestID: JSON
    public let logger: Logger
    /// Where work that waits runs (never the event loop nor the cooperative pool).
    public let work: WaitingWork
    /// The longest response line this call may produce (`--max-response-bytes`): a handler that
    /// can tell early that it would pass it stops and throws `-32003 responseBytes`.
    public let maxResponseBytes: Int
    let send: @Sendable ([UInt8]) -> Void
    let isWritable: @Sendable () -> Bool
    /// Where a large result's text may be written straight (``ResultBuffer``).
    public let result = ResultBuffer()
    /// The /proc reads the lines of one socket read share (``SharedReads``).
    public let shared: SharedReads

    public init(
        peer: PeerCredentials,
        requestID: JSON,
        logger: Logger,
        work: WaitingWork,
        maxResponseBytes: Int,
        shared: SharedReads = SharedReads(),
        isWritable: @escaping @Sendable () -> Bool = { true },
        send: @escaping @Sendable ([UInt8]) -> Void
    ) {
        self.shared = shared
        self.peer = peer
        self.requestID = requestID
        self.logger = logger
        self.work = work
        self.maxResponseBytes = maxResponseBytes
        self.isWritable = isWritable
        self.send = send
    }

    /// False while the client is not reading: more than `--max-unsent-bytes` of this connection's
    /// output waits to be sent. A stream (`watch`) skips what it would send now instead of queueing it.
    public var canSend: Bool { isWritable() }

    /// Sends a notification to this client now, before the response.
    public func notify(_ method: String, _ params: JSON) {
        var writer = JSONWriter(capacity: 256)
        writer.write(["jsonrpc": "2.0", "method": .string(method), "params": params])
        writer.bytes.append(UInt8(ascii: "\n"))
        send(writer.bytes)
    }
}
