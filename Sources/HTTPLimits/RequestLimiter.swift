import NIOCore

/// Told (as an outbound user event) by the HTTP handler when a request has
/// been answered and its response sent: the limiter's count and clock start
/// again for the next one, and the connection is idle.
package struct RequestAnswered: Sendable {
    package init() {}
}

/// Told when each request of a connection starts and when it has been answered (the metrics
/// door's slots: which connection is idle, and since when).
package protocol RequestWatcher: Sendable {
    func requestStarted(_ channel: Channel)
    func requestAnswered(_ channel: Channel)
}

/// An HTTP door's first line of defence (the metrics listener's, the lab's), in front of the
/// HTTP decoder: counts the raw bytes of each request and times it, so a client that sends a
/// huge header, or a header a byte a minute, is cut off without memd buffering it.
///
/// - a request (from its first byte until memd has answered it) larger than
///   `maxBytes`, or taking longer than `timeout`, closes the connection;
/// - a connection with no request under way for `idleTimeout` is closed;
/// - `watcher` learns when a request starts and when it is answered.
///
/// The lab removes it when a connection becomes a WebSocket (frames have their own limits).
///
/// llhttp (under NIOHTTP1) would itself refuse a head over 80 KiB; this limit
/// is lower, counts bodies too, and adds the clock.
package final class RequestLimiter: ChannelDuplexHandler, RemovableChannelHandler {
    package typealias InboundIn = ByteBuffer
    package typealias InboundOut = ByteBuffer
    package typealias OutboundIn = IOData
    package typealias OutboundOut = IOData

    private let maxBytes: Int
    private let timeout: TimeAmount
    private let idleTimeout: TimeAmount
    private var received = 0
    private var inRequest = false
    private var timer: Scheduled<Void>?
    private let watcher: (any RequestWatcher)?

    package static let name = "memd-request-limiter"

    package init(maxBytes: Int, timeout: TimeAmount, idleTimeout: TimeAmount, watcher: (any RequestWatcher)? = nil) {
        self.maxBytes = maxBytes
        self.timeout = timeout
        self.idleTimeout = idleTimeout
        self.watcher = watcher
    }

    package func channelActive(context: ChannelHandlerContext) {
        arm(context, after: idleTimeout)
        context.fireChannelActive()
    }

    package func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context, after: idleTimeout) }
    }

    package func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    package func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        if !inRequest {
            inRequest = true
            received = 0
            arm(context, after: timeout)
            watcher?.requestStarted(context.channel)
        }
        received += bytes.readableBytes
        guard received <= maxBytes else {
            cut(context)
            return
        }
        context.fireChannelRead(data)
    }

    package func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?)
    {
        guard event is RequestAnswered else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        inRequest = false
        received = 0
        arm(context, after: idleTimeout)
        watcher?.requestAnswered(context.channel)
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
