import JSONRPC
import Logging
import MemdProtocol
import NIOCore

/// One client connection: reads lines, runs calls, writes each response as a line.
///
/// Every entry is planned once, where it was read (`Dispatcher.plan`): cheap calls are answered
/// right here on the event loop, cancels are carried out here, slow calls run as tasks (one per
/// line: a single call, or a batch whose members run in turn, each cancellable by its id), and
/// responses go out as they finish (clients match ids).
///
/// Reading stops — the next `read` is held back — while any of these holds, and resumes when none
/// does: `maxInFlight` tasks are running; more than the write-buffer's high water mark (4 MiB) of
/// responses are waiting to be sent (the client is not reading). Lines already read wait in order.
///
/// A client that shuts down its writing side (half-close) still gets every response, then memd
/// closes; a client that hangs up has its calls cancelled.
final class Connection: ChannelDuplexHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let dispatcher: Dispatcher
    let peer: PeerCredentials
    let config: ServerConfig
    let logger: Logger
    let registry: ConnectionRegistry
    private let calls = CallTable()

    /// Tasks running, by a key of their own (a line may hold many calls).
    private var tasks: [Int: Task<Void, Never>] = [:]
    private var nextTask = 0
    /// Lines read but not yet handled (reading is paused).
    private var waiting = CircularBuffer<ByteBuffer>()
    /// A `read` arrived while paused: pass it on when reading may resume.
    private var isReadHeld = false
    /// The client shut down its writing side: nothing more will come.
    private var isInputClosed = false
    private var isClosing = false
    /// Inside a burst of reads: responses are written, and flushed once at its end (one writev
    /// for a pipelined client's many answers instead of one write each).
    private var isReading = false
    private var needsFlush = false

    init(
        dispatcher: Dispatcher,
        peer: PeerCredentials,
        config: ServerConfig,
        logger: Logger,
        registry: ConnectionRegistry
    ) {
        self.dispatcher = dispatcher
        self.peer = peer
        self.config = config
        self.logger = logger
        self.registry = registry
    }

    // MARK: - Reading, and when not to

    private func isPaused(_ context: ChannelHandlerContext) -> Bool {
        isClosing || tasks.count >= config.maxInFlight || !context.channel.isWritable
    }

    func read(context: ChannelHandlerContext) {
        if isPaused(context) { isReadHeld = true } else { context.read() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        isReading = true
        switch unwrapInboundIn(data) {
        case .tooLong:
            write(context, Response.error(id: .null, .requestTooLarge(limit: config.maxRequestBytes)))
            closeWhenSent(context)
        case .line(let line):
            if isPaused(context) || !waiting.isEmpty { waiting.append(line) } else { handle(context, line) }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        isReading = false
        flushIfNeeded(context)
        context.fireChannelReadComplete()
    }

    private func flushIfNeeded(_ context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            context.flush()
        }
    }

    /// Handles waiting lines while nothing pauses reading, then reads again or, after a
    /// half-close with nothing left to answer, closes.
    private func resume(_ context: ChannelHandlerContext) {
        let wasReading = isReading
        isReading = true
        while !isPaused(context), let line = waiting.popFirst() { handle(context, line) }
        isReading = wasReading
        if !isReading { flushIfNeeded(context) }
        guard !isClosing else { return }
        if isInputClosed, tasks.isEmpty, waiting.isEmpty {
            closeWhenSent(context)
        } else if isReadHeld, !isPaused(context) {
            isReadHeld = false
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { resume(context) }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case ChannelEvent.inputClosed:
            isInputClosed = true
            resume(context)
        case is ShutdownRequested:
            for task in tasks.values { task.cancel() }
        default:
            break
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        isClosing = true
        for task in tasks.values { task.cancel() }
        waiting.removeAll()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.debug("connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: - Calls

    private func handle(_ context: ChannelHandlerContext, _ line: ByteBuffer) {
        let message = line.withUnsafeReadableBytes { raw in
            Message.parse(raw.bindMemory(to: UInt8.self), maxBatch: config.maxBatch)
        }
        switch message {
        case .parseError(let error):
            write(context, Response.error(id: .null, error))
        case .emptyBatch:
            write(context, Response.error(id: .null, .invalidRequest("an empty batch")))
        case .batchTooLarge(let limit):
            write(context, Response.error(id: .null, .resourceLimit("batch", limit: limit, requested: limit + 1)))
        case .single(let entry):
            switch dispatcher.plan(entry, context: callContext(context)) {
            case .done(let reply):
                if let reply { write(context, reply) }
            case .cancel(let target, let reply):
                calls.cancel(key(target))
                if let reply { write(context, reply) }
            case .task(let call):
                // Known before its task starts: a cancel that comes first is not lost.
                if !call.isNotification { calls.expect([key(call.id)]) }
                let calls = self.calls
                let dispatcher = self.dispatcher
                startTask(context) { await Connection.run(call, in: calls, dispatcher) }
            }
        case .batch(let entries):
            handleBatch(context, entries)
        }
    }

    /// Batches of more members than this are planned in their task, not on the event loop: a
    /// thousand inline calls (a 50 MB batch of `rpc.discover`) must not hold up every other
    /// connection of the loop.
    static let inlineBatchLimit = 16

    /// Plans every member; answers at once if none needs a task (and the batch is small), else
    /// runs the members in turn as one task and answers when all are done. Every member's id is
    /// known to the call table before anything runs, so a cancel can reach any of them.
    private func handleBatch(_ context: ChannelHandlerContext, _ entries: [Entry]) {
        calls.expect(
            entries.compactMap { entry in
                guard case .request(let request) = entry, request.method != CancelRequestMethod.name else { return nil }
                return key(request.id)
            }
        )
        let (calls, dispatcher, makeContext) = (self.calls, self.dispatcher, callContext(context))
        guard entries.count <= Self.inlineBatchLimit else {
            startTask(context) {
                await Connection.run(Connection.plan(entries, dispatcher, makeContext, calls), calls, dispatcher)
            }
            return
        }
        let plan = Connection.plan(entries, dispatcher, makeContext, calls)
        if plan.later.isEmpty || plan.tooLong != nil {
            if let reply = plan.tooLong ?? dispatcher.batch(plan.replies) { write(context, reply) }
            return
        }
        startTask(context) { await Connection.run(plan, calls, dispatcher) }
    }

    /// A batch planned: the replies ready in their slots, the calls to run for the others.
    struct BatchPlan: Sendable {
        var replies: [ByteBuffer?] = []
        var later: [(slot: Int, call: Dispatcher.Call)] = []
        /// The batch's response would pass the size limit: the error line that replaces it.
        var tooLong: ByteBuffer?
    }

    /// Plans every member of a batch, carrying out its cancels.
    private static func plan(
        _ entries: [Entry],
        _ dispatcher: Dispatcher,
        _ makeContext: (Request) -> CallContext,
        _ calls: CallTable
    ) -> BatchPlan {
        var plan = BatchPlan()
        var size = 2
        for entry in entries {
            let step = dispatcher.plan(entry, context: makeContext)
            if case .request(let request) = entry, request.method != CancelRequestMethod.name, !step.isTask {
                calls.end(JSONWriter.string(request.id))  // expected, but answered already
            }
            switch step {
            case .done(let reply):
                plan.replies.append(reply)
            case .cancel(let target, let reply):
                calls.cancel(JSONWriter.string(target))
                plan.replies.append(reply)
            case .task(let call):
                plan.later.append((plan.replies.count, call))
                plan.replies.append(nil)
            }
            size += plan.replies.last??.readableBytes ?? 0
            if size > dispatcher.maxResponseBytes {  // stop building: a lower bound is enough
                plan.tooLong = dispatcher.tooLong(id: .null, requested: size)
                return plan
            }
        }
        return plan
    }

    /// Runs a planned batch's calls in turn; the batch's response line.
    private static func run(_ plan: BatchPlan, _ calls: CallTable, _ dispatcher: Dispatcher) async -> ByteBuffer? {
        if let tooLong = plan.tooLong { return tooLong }
        var replies = plan.replies
        for (slot, call) in plan.later {
            replies[slot] = await Connection.run(call, in: calls, dispatcher)
        }
        return dispatcher.batch(replies)
    }

    /// Runs one call as a task of its own, reachable by `$/cancelRequest` through its id.
    private static func run(_ call: Dispatcher.Call, in calls: CallTable, _ dispatcher: Dispatcher) async -> ByteBuffer?
    {
        guard !call.isNotification else { return await dispatcher.run(call) }
        let key = JSONWriter.string(call.id)
        let task = Task { await dispatcher.run(call) }
        guard calls.start(key, cancel: { task.cancel() }) else {
            task.cancel()
            _ = await task.value
            return dispatcher.line(
                Response.error(id: call.id, dispatcher.wireError(CancellationError(), method: call.method))
            )
        }
        defer { calls.end(key) }
        return await withTaskCancellationHandler {
            await task.value
        } onCancel: {
            task.cancel()
        }
    }

    private func startTask(_ context: ChannelHandlerContext, _ body: @escaping @Sendable () async -> ByteBuffer?) {
        registry.callStarted()
        nextTask += 1
        let taskKey = nextTask
        let loop = context.eventLoop
        let boundSelf = NIOLoopBound(self, eventLoop: loop)
        let boundContext = NIOLoopBound(context, eventLoop: loop)
        tasks[taskKey] = Task {
            let reply = await body()
            loop.execute { boundSelf.value.finished(boundContext.value, taskKey: taskKey, reply: reply) }
        }
    }

    private func finished(_ context: ChannelHandlerContext, taskKey: Int, reply: ByteBuffer?) {
        registry.callFinished()
        tasks[taskKey] = nil
        guard !isClosing else { return }
        if let reply { write(context, reply) }
        resume(context)
    }

    /// How a call learns who asked and sends its notifications.
    private func callContext(_ context: ChannelHandlerContext) -> @Sendable (Request) -> CallContext {
        let channel = context.channel
        let (peer, logger, dispatcher) = (self.peer, self.logger, self.dispatcher)
        return { request in
            CallContext(
                peer: peer,
                requestID: request.id,
                logger: logger,
                work: dispatcher.work,
                maxResponseBytes: dispatcher.maxResponseBytes,
                isWritable: { channel.isWritable },
                send: { bytes in channel.writeAndFlush(ByteBuffer(bytes: bytes), promise: nil) }
            )
        }
    }

    private func key(_ id: JSON) -> String { JSONWriter.string(id) }

    private func write(_ context: ChannelHandlerContext, _ bytes: [UInt8]) {
        write(context, context.channel.allocator.buffer(bytes: bytes))
    }

    private func write(_ context: ChannelHandlerContext, _ buffer: ByteBuffer) {
        context.write(wrapOutboundOut(buffer), promise: nil)
        if isReading { needsFlush = true } else { context.flush() }
    }

    /// Stops reading, and closes once everything written so far has been sent.
    private func closeWhenSent(_ context: ChannelHandlerContext) {
        guard !isClosing else { return }
        isClosing = true
        let loopContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).whenComplete { _ in
            loopContext.value.close(promise: nil)
        }
    }
}

/// Sent down every connection's pipeline when memd is asked to stop.
struct ShutdownRequested {}
