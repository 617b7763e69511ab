import HTTPLimits
import NIOCore
import NIOHTTP1

/// Answers `GET /metrics`; 404 for any other path, 405 for any other method on
/// it. Read-only: nothing in a request changes memd.
///
/// One response in flight per connection (limits.md §6): NIOHTTP1's pipelining
/// handler hands over the next request when a response's `.end` is written, so
/// `.end` is written only once the body has been sent (its write completed). A
/// client that pipelines and never reads holds one response of memd's memory.
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let renders: SharedRenders
    private var head: HTTPRequestHead?

    init(renders: SharedRenders) {
        self.renders = renders
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break  // GET has none worth reading; the limiter bounds what may come.
        case .end:
            guard let head else { return }
            self.head = nil
            answer(head, context: context)
        }
    }

    /// Not HTTP, or HTTP NIOHTTP1 refuses: its error handler has answered 400
    /// (with `Connection: close`); the connection ends here rather than at the
    /// request timeout.
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    private func answer(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        guard path == "/metrics" else {
            respond(
                context,
                head,
                status: .notFound,
                contentType: "text/plain; charset=utf-8",
                body: Array("Not found: memd serves /metrics\n".utf8)
            )
            return
        }
        guard head.method == .GET else {
            respond(
                context,
                head,
                status: .methodNotAllowed,
                contentType: "text/plain; charset=utf-8",
                body: Array("Method not allowed: /metrics answers GET\n".utf8),
                extra: [("Allow", "GET")]
            )
            return
        }
        let format = ExpositionFormat.negotiate(accept: head.headers["accept"])
        let body = renders.render(format, on: context.eventLoop)
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        body.whenComplete { result in
            let (handler, context) = loopBound.value
            switch result {
            case .success(let bytes):
                handler.respond(context, head, status: .ok, contentType: format.contentType, body: bytes)
            case .failure:
                handler.respond(
                    context,
                    head,
                    status: .serviceUnavailable,
                    contentType: "text/plain; charset=utf-8",
                    body: Array("memd is stopping\n".utf8)
                )
            }
        }
    }

    private func respond(
        _ context: ChannelHandlerContext,
        _ request: HTTPRequestHead,
        status: HTTPResponseStatus,
        contentType: String,
        body: [UInt8],
        extra: [(String, String)] = []
    ) {
        var headers = HTTPHeaders([("Content-Type", contentType), ("Content-Length", String(body.count))])
        headers.add(contentsOf: extra)
        let keepAlive = request.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: request.version, status: status, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        let sent = context.writeAndFlush(
            wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body))))
        )
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        sent.whenComplete { result in
            let context = loopBound.value
            guard case .success = result, context.channel.isActive else {
                context.close(promise: nil)
                return
            }
            // Sent: now the pipelining handler may hand over the next request.
            context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).whenComplete { _ in
                if !keepAlive { loopBound.value.close(promise: nil) }
            }
            context.triggerUserOutboundEvent(RequestAnswered(), promise: nil)
        }
    }
}
