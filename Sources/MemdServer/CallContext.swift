import JSONRPC
import Logging

/// What a method handler knows about the call: who asked (from the socket, not
/// the request), which request it is, and how to send notifications back.
public struct CallContext: Sendable {
    public let peer: PeerCredentials
    /// The request's id (null for a notification).
    public let requestID: JSON
    public let logger: Logger
    let send: @Sendable ([UInt8]) -> Void

    public init(peer: PeerCredentials, requestID: JSON, logger: Logger, send: @escaping @Sendable ([UInt8]) -> Void) {
        self.peer = peer
        self.requestID = requestID
        self.logger = logger
        self.send = send
    }

    /// Sends a notification to this client now, before the response.
    public func notify(_ method: String, _ params: JSON) {
        var writer = JSONWriter(capacity: 256)
        writer.write(["jsonrpc": "2.0", "method": .string(method), "params": params])
        writer.bytes.append(UInt8(ascii: "\n"))
        send(writer.bytes)
    }
}
