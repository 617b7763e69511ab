import NIOCore

/// Told (as an outbound user event) by the HTTP handler when a request has
/// been answered: the limiter's count and clock start again for the next one.
struct RequestAnswered: Sendable {}

/// In front of the HTTP decoder: a request (head and any body) must arrive
/// within `maxBytes` and `timeout` from its first byte, and a connection with
/// no request under way is closed after `idleTimeout`. A head sent a byte a
/// minute, or a 1 MB cookie, is cut off without being buffered.
///
/// Removed when the connection becomes a WebSocket (frames have their own limits).
final class HeadLimiter: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    static let name = "memd-lab-head-limiter"

    private let maxBytes: Int
    private let timeout: TimeAmount
    private let idleTimeout: TimeAmount
    private var received = 0
    private var inRequest = false
    private var timer: Scheduled<Void>?

    init(maxBytes: Int, timeout: TimeAmount, idleTimeout: TimeAmount) {
        self.maxBytes = maxBytes
        self.timeout = timeout
        self.idleTimeout = idleTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context, after: idleTimeout) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context, after: idleTimeout)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        if !inRequest {
            inRequest = true
            received = 0
            arm(context, after: timeout)
        }
        received += bytes.readableBytes
        guard received <= maxBytes else {
            cut(context)
            return
        }
        context.fireChannelRead(data)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard event is RequestAnswered else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        inRequest = false
        received = 0
        arm(context, after: idleTimeout)
        promise?.succeed()
    }

    private func arm(_ context: ChannelHandlerContext, after delay: TimeAmount) {
        timer?.cancel()
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: delay) {
            let (limiter, context) = loopBound.value
            limiter.cut(context)
        }
    }

    /// Over a limit: nothing more is read, nothing is answered; the connection closes.
    private func cut(_ context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.close(promise: nil)
    }
}
