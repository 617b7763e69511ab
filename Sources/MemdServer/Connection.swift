import JSONRPC
import Logging
import NIOCore

/// One client connection: reads lines, runs calls, writes each response as a line.
///
/// Cheap calls run right here on the event loop; slow ones run as tasks, so a
/// slow call never holds up the others, and responses go out as they finish
/// (clients match ids). More than `maxInFlight` tasks at once and the connection
/// stops reading until one finishes: backpressure, not an error.
final class Connection: ChannelInboundHandler {
    typealias InboundIn = Frame
    typealias OutboundOut = ByteBuffer

    let dispatcher: Dispatcher
    let peer: PeerCredentials
    let config: ServerConfig
    let logger: Logger
    let registry: ConnectionRegistry

    private var inFlight = 0
    private var waiting = CircularBuffer<ByteBuffer>()
    private var tasks: [String: Task<Void, Never>] = [:]
    private var nextTaskKey = 0
    private var isClosing = false

    init(dispatcher: Dispatcher, peer: PeerCredentials, config: ServerConfig, logger: Logger, registry: ConnectionRegistry) {
        self.dispatcher = dispatcher
        self.peer = peer
        self.config = config
        self.logger = logger
        self.registry = registry
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .tooLong:
            write(context, Response.error(id: .null, .requestTooLarge(limit: config.maxRequestBytes)))
            closeAfterWrites(context)
        case .line(let line):
            if inFlight >= config.maxInFlight || !waiting.isEmpty {
                waiting.append(line)
                context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
            } else {
                handle(context, line)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        isClosing = true
        for task in tasks.values { task.cancel() }
        tasks.removeAll()
        waiting.removeAll()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.debug("connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ShutdownRequested {
            for task in tasks.values { task.cancel() }
        }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: - Calls

    private func handle(_ context: ChannelHandlerContext, _ line: ByteBuffer) {
        let message = line.withUnsafeReadableBytes { raw in
            Message.parse(UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: UInt8.self), count: raw.count))
        }
        switch message {
        case .parseError(let error):
            write(context, Response.error(id: .null, error))
        case .emptyBatch:
            write(context, Response.error(id: .null, .invalidRequest("an empty batch")))
        case .single(let entry):
            handleSingle(context, entry)
        case .batch(let entries):
            guard entries.count <= config.maxBatch else {
                write(context, Response.error(id: .null, .resourceLimit("batch", limit: config.maxBatch, requested: entries.count)))
                return
            }
            handleBatch(context, entries)
        }
    }

    private func handleSingle(_ context: ChannelHandlerContext, _ entry: Entry) {
        let plan = dispatcher.plan(entry)
        if case .async(let request) = plan {
            startTask(context, keys: [key(request.id)]) { dispatcher, makeContext in
                await dispatcher.run(entry, context: makeContext)
            }
        } else if let reply = runNow(context, entry, plan) {
            write(context, reply)
        }
    }

    /// A batch runs here when every member is cheap, else as one task.
    private func handleBatch(_ context: ChannelHandlerContext, _ entries: [Entry]) {
        let plans = entries.map(dispatcher.plan)
        let needsTask = plans.contains { plan in
            if case .async = plan { return true }
            return false
        }
        if !needsTask {
            let replies = zip(entries, plans).compactMap { runNow(context, $0, $1) }
            if !replies.isEmpty { write(context, Response.batch(replies)) }
            return
        }
        let keys: [String] = entries.compactMap { entry in
            if case .request(let request) = entry { return key(request.id) }
            return nil
        }
        startTask(context, keys: keys) { dispatcher, makeContext in
            var replies: [[UInt8]] = []
            for entry in entries {
                if let reply = await dispatcher.run(entry, context: makeContext) { replies.append(reply) }
            }
            return replies.isEmpty ? nil : Response.batch(replies)
        }
    }

    /// Carries out a plan that needs no task (a ready reply, a cancel, an inline call); its reply, if any.
    private func runNow(_ context: ChannelHandlerContext, _ entry: Entry, _ plan: Dispatcher.Plan) -> [UInt8]? {
        switch plan {
        case .reply(let bytes):
            return bytes
        case .none, .async:
            return nil
        case .cancel(let id, let request):
            tasks[key(id)]?.cancel()
            return request.map { Response.result(id: $0.id, .null) }
        case .inline(let handler, let request):
            return dispatcher.runInline(
                handler, request, isNotification: dispatcher.isNotification(entry), context: callContext(context, request))
        }
    }

    private func startTask(
        _ context: ChannelHandlerContext, keys: [String],
        _ body: @escaping @Sendable (Dispatcher, (Request) -> CallContext) async -> [UInt8]?
    ) {
        inFlight += 1
        registry.callStarted()
        nextTaskKey += 1
        let taskKey = "#\(nextTaskKey)"
        let loop = context.eventLoop
        let boundSelf = NIOLoopBound(self, eventLoop: loop)
        let boundContext = NIOLoopBound(context, eventLoop: loop)
        let dispatcher = self.dispatcher
        let peer = self.peer
        let logger = self.logger
        let channel = context.channel
        let task = Task {
            let reply = await body(dispatcher) { request in
                CallContext(
                    peer: peer, requestID: request.id, logger: logger, work: dispatcher.work,
                    maxResponseBytes: dispatcher.maxResponseBytes
                ) { bytes in
                    channel.writeAndFlush(ByteBuffer(bytes: bytes), promise: nil)
                }
            }
            loop.execute {
                boundSelf.value.finished(boundContext.value, taskKey: taskKey, keys: keys, reply: reply)
            }
        }
        tasks[taskKey] = task
        for key in keys { tasks[key] = task }
    }

    private func finished(_ context: ChannelHandlerContext, taskKey: String, keys: [String], reply: [UInt8]?) {
        inFlight -= 1
        registry.callFinished()
        tasks[taskKey] = nil
        for key in keys { tasks[key] = nil }
        guard !isClosing else { return }
        if let reply { write(context, reply) }
        while inFlight < config.maxInFlight, let line = waiting.popFirst() {
            handle(context, line)
        }
        if waiting.isEmpty, inFlight < config.maxInFlight {
            context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
        }
    }

    private func callContext(_ context: ChannelHandlerContext, _ request: Request) -> CallContext {
        let channel = context.channel
        return CallContext(
            peer: peer, requestID: request.id, logger: logger, work: dispatcher.work,
            maxResponseBytes: config.maxResponseBytes
        ) { bytes in
            channel.writeAndFlush(ByteBuffer(bytes: bytes), promise: nil)
        }
    }

    private func key(_ id: JSON) -> String { JSONWriter.string(id) }

    private func write(_ context: ChannelHandlerContext, _ bytes: [UInt8]) {
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
    }

    private func closeAfterWrites(_ context: ChannelHandlerContext) {
        isClosing = true
        context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        context.close(promise: nil)
    }
}

/// Sent down every connection's pipeline when memd is asked to stop.
struct ShutdownRequested {}
