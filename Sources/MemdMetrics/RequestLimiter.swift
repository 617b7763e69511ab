import NIOCore

/// Told (as an outbound user event) by the HTTP handler when a request has
/// been answered and its response sent: the limiter's count and clock start
/// again for the next one, and the connection is idle.
struct RequestAnswered: Sendable {}

/// The listener's first line of defence, in front of the HTTP decoder: counts
/// the raw bytes of each request and times it, so a client that sends a huge
/// header, or a header a byte a minute, is cut off without memd buffering it.
///
/// - a request (from its first byte until memd has answered it) larger than
///   `maxBytes`, or taking longer than `timeout`, closes the connection;
/// - a connection with no request under way for `idleTimeout` is closed;
/// - `slots` learns when a request starts and when it is answered (which
///   connection is idle, and since when).
///
/// llhttp (under NIOHTTP1) would itself refuse a head over 80 KiB; this limit
/// is lower, counts bodies too, and adds the clock.
final class RequestLimiter: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private let maxBytes: Int
    private let timeout: TimeAmount
    private let idleTimeout: TimeAmount
    private var received = 0
    private var inRequest = false
    private var timer: Scheduled<Void>?
    private let slots: ConnectionSlots?

    init(maxBytes: Int, timeout: TimeAmount, idleTimeout: TimeAmount, slots: ConnectionSlots? = nil) {
        self.maxBytes = maxBytes
        self.timeout = timeout
        self.idleTimeout = idleTimeout
        self.slots = slots
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context, after: idleTimeout)
        context.fireChannelActive()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context, after: idleTimeout) }
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
            slots?.requestStarted(context.channel)
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
        slots?.requestAnswered(context.channel)
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
