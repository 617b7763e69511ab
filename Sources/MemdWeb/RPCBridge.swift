import MemdProtocol
import NIOCore
import NIOPosix
import NIOWebSocket

/// One WebSocket at `/rpc` joined to one connection of memctl to memd's socket:
/// each text frame from the browser is one JSON-RPC line to memd, each line
/// from memd (responses and notifications alike) one text frame back. memd
/// sees an ordinary client with the rights of the user who runs the lab.
///
/// Both channels run on one event loop, so each side writes to the other
/// directly; a side that cannot take more (not writable) stops the other from reading.
enum RPCBridge {
    /// Adds the bridge to an upgraded channel and connects it to memd. A memd that
    /// cannot be reached closes the WebSocket with 1011 and the reason, which the page shows.
    static func attach(to browser: Channel, options: LabOptions) -> EventLoopFuture<Void> {
        let side = BrowserSide(maxMessageBytes: options.maxMessageBytes)
        do {
            let sync = browser.pipeline.syncOperations
            try sync.addHandler(
                NIOWebSocketFrameAggregator(
                    minNonFinalFragmentSize: 0,
                    maxAccumulatedFrameCount: 1024,
                    maxAccumulatedFrameSize: options.maxMessageBytes
                )
            )
            try sync.addHandler(side)
        } catch {
            return browser.eventLoop.makeFailedFuture(error)
        }
        let loopBound = NIOLoopBound(side, eventLoop: browser.eventLoop)
        let path = options.socketPath
        let maxLineBytes = options.maxLineBytes
        // connect(2) on a Unix socket blocks while memd's backlog is full: done off the event loop.
        return NIOThreadPool.singleton.runIfActive(eventLoop: browser.eventLoop) {
            try MemdClient.connectedSocket(path: path)
        }
        .flatMap { fd in
            ClientBootstrap(group: browser.eventLoop)
                .channelInitializer { memd in
                    memd.eventLoop.makeCompletedFuture {
                        let side = MemdSide(browser: browser, maxLineBytes: maxLineBytes)
                        try memd.pipeline.syncOperations.addHandler(side)
                    }
                }
                .withConnectedSocket(fd)
        }
        .map { memd in loopBound.value.attach(memd, context: browser) }
        .recover { error in
            let reason = (error as? MemdClient.Failure).map { "\($0)" } ?? "memd: \(error)"
            loopBound.value.close(browser, code: .unexpectedServerError, reason: reason)
        }
    }
}

/// The browser's end: text frames become lines to memd.
final class BrowserSide: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let maxMessageBytes: Int
    private var memd: Channel?
    /// Lines that came before memd's connection was made.
    private var early: [ByteBuffer] = []
    private var closing = false

    init(maxMessageBytes: Int) { self.maxMessageBytes = maxMessageBytes }

    func attach(_ memd: Channel, context browser: Channel) {
        guard browser.isActive else {
            memd.close(promise: nil)
            return
        }
        self.memd = memd
        browser.closeFuture.whenComplete { _ in memd.close(promise: nil) }
        for line in early { memd.write(line, promise: nil) }
        early = []
        memd.flush()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            var line = frame.unmaskedData
            // memd's framing is one JSON text per line: raw newlines (only ever
            // whitespace in JSON) become spaces.
            if line.readableBytesView.contains(where: { $0 == 10 || $0 == 13 }) {
                let bytes = line.readableBytesView.map { $0 == 10 || $0 == 13 ? UInt8(ascii: " ") : $0 }
                line = context.channel.allocator.buffer(bytes: bytes)
            }
            line.writeInteger(UInt8(ascii: "\n"))
            if let memd {
                memd.writeAndFlush(line, promise: nil)
            } else {
                early.append(line)
            }
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            var data = frame.unmaskedData
            let code = data.readWebSocketErrorCode() ?? .normalClosure
            close(context.channel, code: code, reason: "")
        case .binary:
            close(context.channel, code: .unacceptableData, reason: "the lab speaks JSON-RPC in text frames")
        default:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        memd?.close(promise: nil)
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        memd?.setOption(ChannelOptions.autoRead, value: context.channel.isWritable).whenFailure { _ in }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        close(context.channel, code: .protocolError, reason: "")
    }

    /// Sends a close frame (once), then closes the connection.
    func close(_ browser: Channel, code: WebSocketErrorCode, reason: String) {
        guard !closing else { return }
        closing = true
        var data = browser.allocator.buffer(capacity: 2 + reason.utf8.count)
        data.write(webSocketErrorCode: code)
        // A close frame's payload is at most 125 bytes.
        data.writeBytes(reason.utf8.prefix(123))
        let frame = WebSocketFrame(fin: true, opcode: .connectionClose, data: data)
        browser.writeAndFlush(frame).whenComplete { _ in browser.close(promise: nil) }
    }
}

/// memd's end: lines become text frames to the browser.
final class MemdSide: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let browser: Channel
    private let maxLineBytes: Int
    private var buffer = ByteBuffer()
    /// Bytes of `buffer` already searched for a newline (a 15 MB answer comes in many reads).
    private var searched = 0

    init(browser: Channel, maxLineBytes: Int) {
        self.browser = browser
        self.maxLineBytes = maxLineBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        buffer.writeBuffer(&chunk)
        var sent = false
        while let newline = buffer.readableBytesView.dropFirst(searched).firstIndex(of: 10) {
            let length = newline - buffer.readerIndex
            guard let line = buffer.readSlice(length: length) else { break }
            buffer.moveReaderIndex(forwardBy: 1)
            browser.write(WebSocketFrame(fin: true, opcode: .text, data: line), promise: nil)
            sent = true
            searched = 0
        }
        searched = buffer.readableBytes
        if sent { browser.flush() }
        buffer.discardReadBytes()
        if buffer.readableBytes > maxLineBytes {
            closeBrowser(code: .messageTooLarge, reason: "a line from memd over \(maxLineBytes) bytes")
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        closeBrowser(code: .goingAway, reason: "memd closed the connection")
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        browser.setOption(ChannelOptions.autoRead, value: context.channel.isWritable).whenFailure { _ in }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    private func closeBrowser(code: WebSocketErrorCode, reason: String) {
        guard browser.isActive else { return }
        if let side = try? browser.pipeline.syncOperations.handler(type: BrowserSide.self) {
            side.close(browser, code: code, reason: reason)
        } else {
            browser.close(promise: nil)
        }
    }
}
