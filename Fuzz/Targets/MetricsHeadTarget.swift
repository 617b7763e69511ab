import MemdMetrics
import NIOCore
import NIOEmbedded
import NIOHTTP1

extension FuzzTarget {
    /// Bytes sent to the /metrics listener, through the same pipeline as MetricsServer builds it:
    /// the request head that comes out has its path and `Accept` read as the handler reads them,
    /// and gets an answer.
    static let metricsHead = FuzzTarget("metrics_head") { bytes in
        let channel = EmbeddedChannel()
        // acceptAlreadyClosed: a channel the input got closed still has its pipeline torn down and its
        // timers cancelled (finish() would throw first and leak them: LeakSanitizer, crash-fc62789eb2).
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        do {
            let sync = channel.pipeline.syncOperations
            try sync.addMetricsRequestDecoding(maxBytes: 16 << 10, timeout: .seconds(10), idleTimeout: .seconds(30))
            try sync.addHandler(HeadReader())
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
            // In two pieces, as a client's writes may arrive.
            let split = bytes.isEmpty ? 0 : Int(bytes[0]) % bytes.count
            try channel.writeInbound(ByteBuffer(bytes: bytes[..<split]))
            try channel.writeInbound(ByteBuffer(bytes: bytes[split...]))
        } catch {
            return
        }
        while (try? channel.readOutbound(as: IOData.self)) != nil {}
    }
}

/// The end of the fuzzed pipeline: reads each head as MetricsHTTPHandler does and answers 404.
final class HeadReader: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            _ = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first
            _ = ExpositionFormat.negotiate(accept: head.headers["accept"])
        case .body: break
        case .end:
            let head = HTTPResponseHead(version: .http1_1, status: .notFound, headers: ["content-length": "0"])
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
