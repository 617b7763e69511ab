import HTTPLimits
import NIOCore
import NIOHTTP1
import NIOWebSocket

/// Answers the lab's plain HTTP requests: the page's files, the token's
/// redirect, and every refusal, each as `LabGate` decides. The WebSocket
/// upgrade never reaches it (NIOWebSocket's upgrader takes it first); a
/// request to `/rpc` that was not upgraded is answered here with why.
final class LabHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let name = "memd-lab-http"

    private let gate: LabGate
    private let assets: LabAssets
    private let sockets: WebSocketSlots
    private var head: HTTPRequestHead?

    init(gate: LabGate, assets: LabAssets, sockets: WebSocketSlots) {
        self.gate = gate
        self.assets = assets
        self.sockets = sockets
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break  // GET and HEAD carry none worth reading; the limiter bounds what may come.
        case .end:
            guard let head else { return }
            self.head = nil
            answer(head, context: context)
        }
    }

    /// Not HTTP, or HTTP NIOHTTP1 refuses: its error handler has answered 400.
    /// An upgrade the gate refused is not an error here: NIOWebSocket reports it,
    /// then hands the request on, and it is answered with why.
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if error is NIOWebSocketUpgradeError { return }
        context.close(promise: nil)
    }

    private func answer(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let request = LabGate.Request(head)
        switch gate.check(request) {
        case .refused(let status, let reason):
            var extra: [(String, String)] = []
            if status == 405 { extra.append(("Allow", "GET, HEAD")) }
            respond(context, head, status: status, text: reason, extra: extra)
        case .setCookie(let location):
            respond(
                context,
                head,
                status: 303,
                text: "See \(location)",
                extra: [("Location", location), ("Set-Cookie", gate.cookie)]
            )
        case .allowed:
            if request.path == "/rpc" {
                switch gate.checkUpgrade(request) {
                case .refused(let status, let reason): respond(context, head, status: status, text: reason)
                case .setCookie, .allowed:
                    if sockets.isFull {
                        respond(context, head, status: 503, text: "Too many lab WebSockets open (\(sockets.limit))")
                    } else {
                        respond(context, head, status: 426, text: "Upgrade required: /rpc is a WebSocket")
                    }
                }
            } else if let file = assets[request.path] {
                respond(context, head, status: 200, contentType: file.contentType, body: file.body)
            } else {
                respond(context, head, status: 404, text: "Not found")
            }
        }
    }

    private func respond(
        _ context: ChannelHandlerContext,
        _ request: HTTPRequestHead,
        status: Int,
        text: String,
        extra: [(String, String)] = []
    ) {
        respond(
            context,
            request,
            status: status,
            contentType: "text/plain; charset=utf-8",
            body: ByteBuffer(string: text + "\n"),
            extra: extra
        )
    }

    private func respond(
        _ context: ChannelHandlerContext,
        _ request: HTTPRequestHead,
        status: Int,
        contentType: String,
        body: ByteBuffer,
        extra: [(String, String)] = []
    ) {
        var headers = HTTPHeaders([
            ("Content-Type", contentType),
            ("Content-Length", String(body.readableBytes)),
            ("Cache-Control", "no-cache"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
            ("X-Frame-Options", "DENY"),
            ("Content-Security-Policy", Self.policy),
        ])
        headers.add(contentsOf: extra)
        let keepAlive = request.isKeepAlive && status < 400
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: request.version, status: .init(statusCode: status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { loopBound.value.close(promise: nil) }
        }
        context.triggerUserOutboundEvent(RequestAnswered(), promise: nil)
    }

    /// The page may load only its own files and talk only to its own host
    /// (`'self'` covers the same host's `ws:` in CSP 3): no request leaves the host.
    static let policy =
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        + "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
}

extension LabGate.Request {
    init(_ head: HTTPRequestHead) {
        self.init(method: head.method.rawValue, uri: head.uri, headers: head.headers.map { ($0.name, $0.value) })
    }
}
