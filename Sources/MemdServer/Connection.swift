import JSONRPC
import Logging
import MemdProtocol
import NIOCore

/// One client connection: reads lines, runs calls, writes each response as a line.
///
/// Every line is planned once (``Connection/prepare(_:_:)``): cheap calls are answered right here on
/// the event loop, cancels are carried out here, slow calls run as tasks (one per line: a single
/// call, or a batch whose members run in turn, each cancellable by its id), and responses go out as
/// they finish (clients match ids). Tasks run on the uid's share of the ``FairPool`` (its
/// ``WaitingWork`` is their executor); so do the parse and plan of a line longer than
/// `offLoopLineBytes` and of a batch of more than `inlineBatchLimit` members.
///
/// The event loop is shared with other clients: a connection gets a slice of it per turn
/// (`turnSlice`), then yields, and its other lines wait for its next turn.
///
/// Reading stops — the next `read` is held back, and no waiting line is started — while any of
/// these holds, and resumes when none does: `maxInFlight` tasks are running; more than the mark
/// (4 MiB) of this connection's responses wait to be sent; a finished response is held because of
/// that; the uid's unsent responses on all its connections are over `--max-response-bytes`
/// (``UnsentBytes``); a line is being parsed off the loop; the connection yielded its turn.
///
/// A client that shuts down its writing side (half-close) still gets every response, then memd
/// closes; a client that hangs up has its calls cancelled.
final class Connection: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Lines longer than this are parsed and planned on the uid's pool thread, not on the loop.
    static let offLoopLineBytes = 64 * 1024
    /// Batches of more members than this are planned in their task, not on the event loop.
    static let inlineBatchLimit = 16
    /// How long a connection may hold the event loop before it lets the others have their turn.
    static let turnSlice = TimeAmount.microseconds(300)
    /// How many bytes of responses a connection may write in one turn: what the kernel then copies
    /// and the client is woken for is part of the turn too (cheap calls make many bytes fast).
    static let turnBytes = 256 * 1024

    let dispatcher: Dispatcher
    let peer: PeerCredentials
    let config: ServerConfig
    let logger: Logger
    let registry: ConnectionRegistry
    /// This uid's share of the pool: where the connection's tasks run.
    let work: WaitingWork
    /// The loop's turns (nil: a loop without them, as in tests; yielding then hands a task to the loop).
    let turns: LoopTurns?
    private let calls = CallTable()
    /// The /proc reads shared by the lines read before the snapshot: the loop's (its connections'
    /// lines read in one pass share it), else this connection's own.
    private let shared: SharedReads

    /// Tasks running, by a key of their own (a line may hold many calls).
    private var tasks: [Int: Task<Void, Never>] = [:]
    private var nextTask = 0
    /// What was read, split into lines as they are handled.
    private var framer: LineFramer
    /// Closes the connection when a partial line gets no new byte for `--idle-timeout`.
    private var idleTimer: Scheduled<Void>?
    /// Finished responses held while the connection is over its mark.
    private var held = CircularBuffer<ByteBuffer>()
    /// Lines being parsed and planned off the loop: later lines wait (a cancel must find its call).
    private var parsing = 0
    /// A `read` arrived while paused: pass it on when reading may resume.
    private var isReadHeld = false
    /// The client shut down its writing side: nothing more will come.
    private var isInputClosed = false
    private var isClosing = false
    /// The connection used up its slice of the loop and waits for its next turn.
    private var isYielding = false
    private var turnEnds = NIODeadline.distantFuture
    /// Inside a burst of reads: responses are written, and flushed once at its end (one writev
    /// for a pipelined client's many answers instead of one write each).
    private var isReading = false
    private var needsFlush = false
    /// Bytes written since the last flush (counted in ``UnsentBytes`` until the kernel takes them).
    private var unflushedBytes = 0
    /// Wakes the connection when its uid's unsent bytes drop back (set once it is in a pipeline).
    private var wake: (@Sendable () -> Void)?
    /// Where the calls' notifications go (set once the connection is in a pipeline).
    private var channel: Channel?
    /// Handles what was read, once the loop has read every ready socket (set once in a pipeline).
    private var handleRead: (() -> Void)?
    private var isHandleReadAwaited = false

    init(
        dispatcher: Dispatcher,
        peer: PeerCredentials,
        config: ServerConfig,
        logger: Logger,
        registry: ConnectionRegistry,
        turns: LoopTurns?
    ) {
        self.dispatcher = dispatcher
        self.peer = peer
        self.config = config
        self.logger = logger
        self.registry = registry
        self.turns = turns
        self.framer = LineFramer(maxLength: config.maxRequestBytes)
        self.work = WaitingWork(pool: dispatcher.pool, uid: peer.uid)
        self.shared = turns?.shared ?? SharedReads()
    }

    private var unsent: UnsentBytes { dispatcher.unsent }

    /// `wake` holds this handler and its context: let go of it, or every connection would stay in
    /// memory after it closed.
    func handlerRemoved(context: ChannelHandlerContext) {
        wake = nil
        handleRead = nil
        channel = nil
        prepared = nil
    }

    func handlerAdded(context: ChannelHandlerContext) {
        channel = context.channel
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let loop = context.eventLoop
        wake = {
            loop.execute {
                let (connection, context) = bound.value
                connection.resume(context)
            }
        }
        handleRead = {  // held by the connection until `handlerRemoved` lets go of it
            self.isHandleReadAwaited = false
            self.resume(context)
        }
    }

    // MARK: - Reading, and when not to

    private func isPaused(_ context: ChannelHandlerContext) -> Bool {
        isClosing || isYielding || parsing > 0 || tasks.count >= config.maxInFlight || !held.isEmpty
            || !context.channel.isWritable || isUIDPaused
    }

    private var isUIDPaused: Bool {
        guard let wake else { return false }
        return unsent.isPaused(peer.uid, connection: ObjectIdentifier(self), wake: wake)
    }

    func read(context: ChannelHandlerContext) {
        if isPaused(context) { isReadHeld = true } else { context.read() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !isReading {
            isReading = true
            turnEnds = .now() + Self.turnSlice
        }
        shared.socketRead()
        framer.append(unwrapInboundIn(data))
        armIdleTimer(context)
        if let turns, let handleRead {
            if !isHandleReadAwaited {
                isHandleReadAwaited = true
                turns.afterReads(handleRead)
            }
        } else {
            drain(context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        isReading = false
        flushIfNeeded(context)
        context.fireChannelReadComplete()
    }

    /// A new turn: handles waiting lines, sends what it can.
    private func resume(_ context: ChannelHandlerContext) {
        turnEnds = .now() + Self.turnSlice
        writeHeld(context)
        drain(context)
    }

    /// Handles the lines read while nothing pauses reading and the turn lasts, then reads again or,
    /// after a half-close with nothing left to answer, closes.
    private func drain(_ context: ChannelHandlerContext) {
        let wasReading = isReading
        isReading = true
        var isDrained = false
        while !isPaused(context) {
            if NIODeadline.now() > turnEnds || unflushedBytes >= Self.turnBytes {
                yieldTurn(context)
                break
            }
            guard let frame = framer.next() else {
                isDrained = true
                break
            }
            switch frame {
            case .line(let line):
                handle(context, line)
            case .tooLong:
                emit(
                    context,
                    dispatcher.line(Response.error(id: .null, .requestTooLarge(limit: config.maxRequestBytes)))
                )
                closeWhenSent(context)
            }
        }
        isReading = wasReading
        if !isReading { flushIfNeeded(context) }
        guard !isClosing else { return }
        if isInputClosed, isDrained, tasks.isEmpty, held.isEmpty, parsing == 0 {
            closeWhenSent(context)
        } else if isReadHeld, !isPaused(context) {
            isReadHeld = false
            context.read()
        }
    }

    /// A partial line starts (or restarts) the idle clock; a read that ends a line stops it.
    private func armIdleTimer(_ context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = nil
        guard framer.isMidLine else { return }
        let seconds = config.idlePartialLineSeconds
        let timeout = TimeAmount.milliseconds(Int64(min(max(seconds, 0.001), 86_400) * 1000))
        let loopContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        idleTimer = context.eventLoop.scheduleTask(in: timeout) { loopContext.value.close(promise: nil) }
    }

    /// Lets the loop serve the other connections; this one goes on in its next turn.
    private func yieldTurn(_ context: ChannelHandlerContext) {
        isYielding = true
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let next: @Sendable () -> Void = {
            let (connection, context) = bound.value
            connection.isYielding = false
            connection.resume(context)
        }
        if let turns { turns.wait(uid: peer.uid, next) } else { context.eventLoop.execute(next) }
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
        idleTimer?.cancel()
        for task in tasks.values { task.cancel() }
        let heldBytes = held.reduce(0) { $0 + $1.readableBytes }
        held.removeAll()
        unsent.sent(heldBytes, uid: peer.uid)
        unsent.forget(peer.uid, connection: ObjectIdentifier(self))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.debug("connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: - Calls

    /// What a line needs once parsed and planned.
    enum Step: Sendable {
        /// Answered already (nil: nothing to send); `id` is the request's, for an error that replaces it.
        case reply(ByteBuffer?, id: JSON)
        /// A call to run as a task.
        case single(Dispatcher.Call)
        /// A batch with members to run as a task.
        case batch(BatchPlan)
    }

    private func handle(_ context: ChannelHandlerContext, _ line: ByteBuffer) {
        let maxBatch = config.maxBatch
        guard line.readableBytes <= Self.offLoopLineBytes else {
            offLoop(context) { Connection.parse(line, maxBatch: maxBatch) }
            return
        }
        let message = Connection.parse(line, maxBatch: maxBatch)
        if case .batch(let entries) = message, entries.count > Self.inlineBatchLimit {
            offLoop(context) { message }
            return
        }
        switch Connection.prepare(message, preparing()) {
        case .reply(let reply, let id):
            if let reply { emit(context, reply, id: id) }
        case .single(let call):
            let (calls, dispatcher, work) = (self.calls, self.dispatcher, self.work)
            startTask(context) { (await Connection.run(call, calls, dispatcher, work), call.id) }
        case .batch(let plan):
            let (calls, dispatcher, work) = (self.calls, self.dispatcher, self.work)
            startTask(context) { (await Connection.run(plan, calls, dispatcher, work), .null) }
        }
    }

    /// Parses and plans a line on the uid's pool thread, then runs what it needs; later lines wait
    /// until it is planned (so that a cancel that follows finds its call).
    private func offLoop(_ context: ChannelHandlerContext, _ message: @escaping @Sendable () -> Message) {
        parsing += 1
        let preparing = preparing()
        let (calls, dispatcher, work) = (self.calls, self.dispatcher, self.work)
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let loop = context.eventLoop
        startTask(context) {
            let step = Connection.prepare(message(), preparing)
            loop.execute {
                let (connection, context) = bound.value
                connection.parsing -= 1
                connection.resume(context)
            }
            switch step {
            case .reply(let reply, let id): return (reply, id)
            case .single(let call): return (await Connection.run(call, calls, dispatcher, work), call.id)
            case .batch(let plan): return (await Connection.run(plan, calls, dispatcher, work), .null)
            }
        }
    }

    static func parse(_ line: ByteBuffer, maxBatch: Int) -> Message {
        line.withUnsafeReadableBytes { raw in Message.parse(raw.bindMemory(to: UInt8.self), maxBatch: maxBatch) }
    }

    /// What planning needs: the dispatcher, how a call learns who asked, the call table.
    struct Preparing: Sendable {
        let dispatcher: Dispatcher
        let makeContext: @Sendable (Request) -> CallContext
        let calls: CallTable
    }

    /// Made once the connection is in a pipeline (not once per line: its closures are the same
    /// for every call); let go when it leaves it.
    private var prepared: Preparing?

    private func preparing() -> Preparing {
        if let prepared { return prepared }
        let made = Preparing(dispatcher: dispatcher, makeContext: callContext(), calls: calls)
        prepared = made
        return made
    }

    /// Plans a parsed line: answers what answers at once, carries out its cancels, and makes every
    /// id that will run known to the call table before anything runs (a cancel that comes first is
    /// not lost).
    static func prepare(_ message: Message, _ p: Preparing) -> Step {
        let dispatcher = p.dispatcher
        switch message {
        case .parseError(let error):
            return .reply(dispatcher.line(Response.error(id: .null, error)), id: .null)
        case .emptyBatch:
            return .reply(dispatcher.line(Response.error(id: .null, .invalidRequest("an empty batch"))), id: .null)
        case .batchTooLarge(let limit):
            let error = RPCError.resourceLimit("batch", limit: limit, requested: limit + 1)
            return .reply(dispatcher.line(Response.error(id: .null, error)), id: .null)
        case .single(let entry):
            let id: JSON
            if case .request(let request) = entry { id = request.id } else { id = .null }
            switch dispatcher.plan(entry, context: p.makeContext) {
            case .done(let reply):
                return .reply(reply, id: id)
            case .cancel(let target, let reply):
                p.calls.cancel(JSONWriter.string(target))
                return .reply(reply, id: id)
            case .task(let call):
                if !call.isNotification { p.calls.expect([JSONWriter.string(call.id)]) }
                return .single(call)
            }
        case .batch(let entries):
            p.calls.expect(
                entries.compactMap { entry in
                    guard case .request(let request) = entry, request.method != CancelRequestMethod.name else {
                        return nil
                    }
                    return JSONWriter.string(request.id)
                }
            )
            let plan = Connection.plan(entries, p)
            if plan.later.isEmpty || plan.tooLong != nil {
                return .reply(plan.tooLong ?? dispatcher.batch(plan.replies), id: .null)
            }
            return .batch(plan)
        }
    }

    /// A batch planned: the replies ready in their slots, the calls to run for the others.
    struct BatchPlan: Sendable {
        var replies: [ByteBuffer?] = []
        var later: [(slot: Int, call: Dispatcher.Call)] = []
        /// The batch's response would pass the size limit: the error line that replaces it.
        var tooLong: ByteBuffer?
    }

    /// Plans every member of a batch, carrying out its cancels.
    private static func plan(_ entries: [Entry], _ p: Preparing) -> BatchPlan {
        let dispatcher = p.dispatcher
        var plan = BatchPlan()
        var size = 2
        for entry in entries {
            let step = dispatcher.plan(entry, context: p.makeContext)
            if case .request(let request) = entry, request.method != CancelRequestMethod.name, !step.isTask {
                p.calls.end(JSONWriter.string(request.id))  // expected, but answered already
            }
            switch step {
            case .done(let reply):
                plan.replies.append(reply)
            case .cancel(let target, let reply):
                p.calls.cancel(JSONWriter.string(target))
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
    private static func run(
        _ plan: BatchPlan,
        _ calls: CallTable,
        _ dispatcher: Dispatcher,
        _ work: WaitingWork
    ) async -> ByteBuffer? {
        if let tooLong = plan.tooLong { return tooLong }
        var replies = plan.replies
        for (slot, call) in plan.later {
            replies[slot] = await Connection.run(call, calls, dispatcher, work)
        }
        return dispatcher.batch(replies)
    }

    /// Runs one call as a task of its own, reachable by `$/cancelRequest` through its id.
    private static func run(
        _ call: Dispatcher.Call,
        _ calls: CallTable,
        _ dispatcher: Dispatcher,
        _ work: WaitingWork
    ) async -> ByteBuffer? {
        guard !call.isNotification else { return await dispatcher.run(call) }
        let key = JSONWriter.string(call.id)
        let task = Task(executorPreference: work) { await dispatcher.run(call) }
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

    /// Starts `body` as a task on the uid's share of the pool; its reply (and the id an error
    /// replacing it would carry) is sent when it ends.
    private func startTask(
        _ context: ChannelHandlerContext,
        _ body: @escaping @Sendable () async -> (ByteBuffer?, JSON)
    ) {
        registry.callStarted()
        nextTask += 1
        let taskKey = nextTask
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        tasks[taskKey] = Task(executorPreference: work) {
            let (reply, id) = await body()
            loop.execute {
                let (connection, context) = bound.value
                connection.finished(context, taskKey: taskKey, reply: reply, id: id)
            }
        }
    }

    private func finished(_ context: ChannelHandlerContext, taskKey: Int, reply: ByteBuffer?, id: JSON) {
        registry.callFinished()
        tasks[taskKey] = nil
        guard !isClosing else { return }
        if let reply { emit(context, reply, id: id) }
        resume(context)
    }

    /// How a call learns who asked, where it runs, and how it sends its notifications.
    private func callContext() -> @Sendable (Request) -> CallContext {
        let (peer, logger, dispatcher, work, unsent, shared) = (
            self.peer, self.logger, self.dispatcher, self.work, self.unsent, self.shared
        )
        let channel = self.channel
        let isWritable: @Sendable () -> Bool = {
            guard let channel else { return false }
            return channel.isWritable && unsent.bytes(of: peer.uid) <= unsent.pauseAbove
        }
        let send: @Sendable ([UInt8]) -> Void = { bytes in
            channel?.writeAndFlush(ByteBuffer(bytes: bytes), promise: nil)
        }
        return { request in
            CallContext(
                peer: peer,
                requestID: request.id,
                logger: logger,
                work: work,
                maxResponseBytes: dispatcher.maxResponseBytes,
                shared: shared,
                isWritable: isWritable,
                send: send
            )
        }
    }

    // MARK: - Writing, counted

    /// Sends a response, or holds it while the connection is over its mark; counted against the
    /// uid's unsent bytes, and replaced by `-32003 unsentBytes` if it would take the uid past them.
    private func emit(_ context: ChannelHandlerContext, _ reply: ByteBuffer, id: JSON = .null) {
        var reply = reply
        if !unsent.take(reply.readableBytes, uid: peer.uid) {
            let requested = unsent.bytes(of: peer.uid) + reply.readableBytes
            reply = dispatcher.line(
                Response.error(id: id, .resourceLimit("unsentBytes", limit: unsent.limit, requested: requested))
            )
            unsent.force(reply.readableBytes, uid: peer.uid)
        }
        if held.isEmpty, context.channel.isWritable { write(context, reply) } else { held.append(reply) }
    }

    /// Writes held responses while the connection is under its mark.
    private func writeHeld(_ context: ChannelHandlerContext) {
        guard !held.isEmpty else { return }
        let wasReading = isReading
        isReading = true
        while context.channel.isWritable, let reply = held.popFirst() { write(context, reply) }
        isReading = wasReading
        if !isReading { flushIfNeeded(context) }
    }

    private func write(_ context: ChannelHandlerContext, _ buffer: ByteBuffer) {
        unflushedBytes += buffer.readableBytes
        context.write(wrapOutboundOut(buffer), promise: nil)
        if isReading { needsFlush = true } else { flush(context) }
    }

    private func flushIfNeeded(_ context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            flush(context)
        }
    }

    /// Flushes; the bytes written since the last flush stop counting once the kernel has them: at
    /// once when the flush left nothing buffered (the usual case: no promise, no empty write per
    /// response), else when an empty write queued behind them completes.
    private func flush(_ context: ChannelHandlerContext) {
        let bytes = unflushedBytes
        unflushedBytes = 0
        context.flush()
        guard bytes > 0 else { return }
        let (unsent, uid) = (self.unsent, peer.uid)
        if (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) == 0 {
            unsent.sent(bytes, uid: uid)
            return
        }
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenComplete { _ in unsent.sent(bytes, uid: uid) }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)), promise: promise)
    }

    /// Notifications (`watch.sample`) come from the call's task through the channel: counted too,
    /// and dropped rather than queued past the uid's limit (a stream skips what it cannot send).
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let bytes = unwrapOutboundIn(data).readableBytes
        guard unsent.take(bytes, uid: peer.uid) else {
            promise?.fail(ChannelError.outputClosed)
            return
        }
        let (unsent, uid) = (self.unsent, peer.uid)
        let counted = promise ?? context.eventLoop.makePromise(of: Void.self)
        counted.futureResult.whenComplete { _ in unsent.sent(bytes, uid: uid) }
        context.write(data, promise: counted)
    }

    /// Stops reading, and closes once everything written so far has been sent.
    private func closeWhenSent(_ context: ChannelHandlerContext) {
        guard !isClosing else { return }
        isClosing = true
        while let reply = held.popFirst() { write(context, reply) }  // the client may still read them
        let loopContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        flush(context)
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).whenComplete { _ in
            loopContext.value.close(promise: nil)
        }
    }
}

/// Sent down every connection's pipeline when memd is asked to stop.
struct ShutdownRequested {}
