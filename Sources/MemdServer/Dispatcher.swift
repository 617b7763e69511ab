import JSONRPC
import Logging
import MemdMetrics
import MemdProtocol
import NIOCore

/// Decides, once, what each entry needs, and turns every outcome into its response bytes (nil for
/// notifications), mapping errors to the wire at this one boundary: RPCError as it is,
/// cancellation as -32006, anything else -32603 (and logged). A response longer than
/// `maxResponseBytes` is replaced by -32003 `responseBytes` with the same id.
struct Dispatcher: Sendable {
    let methods: MethodTable<CallContext>
    let logger: Logger
    /// The threads calls run on, shared per uid.
    let pool: FairPool
    /// Responses not yet read, per uid.
    let unsent: UnsentBytes
    let maxResponseBytes: Int
    /// memd's own counters for /metrics (`--metrics-listen`); nil: not kept.
    let health: HealthMetrics?

    enum Plan {
        /// Answered already; nil: nothing to send (a notification).
        case done(ByteBuffer?)
        /// `$/cancelRequest`: the connection cancels `target` on its event loop, then sends `reply`.
        case cancel(target: JSON, reply: ByteBuffer?)
        /// Work that may take long: run `Call.run` as a task.
        case task(Call)

        var isTask: Bool {
            if case .task = self { return true }
            return false
        }
    }

    /// A call whose work runs as a task.
    struct Call: Sendable {
        let id: JSON
        let method: String
        let isNotification: Bool
        let work: @Sendable () async throws -> JSON
        /// The result's text, when the work wrote it straight into memory to be sent.
        let held: ResultBuffer
        /// When it was read (its duration, for /metrics, runs from here).
        let arrived: ContinuousClock.Instant
    }

    /// Plans an entry where it was read: decodes its params and runs it now if its method
    /// answers now.
    func plan(_ entry: Entry, context: (Request) -> CallContext) -> Plan {
        let arrived = ContinuousClock.now
        let request: Request
        let isNotification: Bool
        switch entry {
        case .invalid(let id, let error):
            count(HealthMetrics.otherMethod, error, since: arrived)
            return .done(line(Response.error(id: id, error)))
        case .notification(let r):
            (request, isNotification) = (r, true)
        case .request(let r):
            (request, isNotification) = (r, false)
        }
        func answer(_ error: RPCError) -> Plan {
            count(request.method, error, since: arrived)
            return .done(isNotification ? nil : line(Response.error(id: request.id, error)))
        }

        if request.method == CancelRequestMethod.name {
            guard let target = CancelRequestMethod.target(request.params) else {
                return answer(.invalidParams("id", "required"))
            }
            count(request.method, nil, since: arrived)
            return .cancel(target: target, reply: isNotification ? nil : line(Response.result(id: request.id, .null)))
        }
        guard let handler = methods[request.method] else { return answer(.methodNotFound(request.method)) }
        let callContext = context(request)
        do {
            switch try handler(request.params, callContext) {
            case .now(let result):
                count(request.method, nil, since: arrived)
                return .done(isNotification ? nil : response(id: request.id, result, held: callContext.result.take()))
            case .later(let work):
                return .task(
                    Call(
                        id: request.id,
                        method: request.method,
                        isNotification: isNotification,
                        work: work,
                        held: callContext.result,
                        arrived: arrived
                    )
                )
            }
        } catch {
            return answer(wireError(error, method: request.method))
        }
    }

    /// Runs a call's work; its response.
    func run(_ call: Call) async -> ByteBuffer? {
        do {
            let result = try await call.work()
            if Task.isCancelled { throw CancellationError() }
            count(call.method, nil, since: call.arrived)
            return call.isNotification ? nil : response(id: call.id, result, held: call.held.take())
        } catch {
            let error = wireError(error, method: call.method)
            count(call.method, error, since: call.arrived)
            return call.isNotification ? nil : line(Response.error(id: call.id, error))
        }
    }

    /// One call answered, for /metrics: its method, its code (0 for a result), how long it took.
    private func count(_ method: String, _ error: RPCError?, since arrived: ContinuousClock.Instant) {
        guard let health else { return }
        let (seconds, attoseconds) = (ContinuousClock.now - arrived).components
        health.requestFinished(
            method: method,
            code: error.map { Int($0.code.rawValue) } ?? 0,
            seconds: Double(seconds) + Double(attoseconds) * 1e-18
        )
    }

    /// The response line of a result, or -32003 `responseBytes` when it is too long. A result
    /// already in JSON text is copied once, into the buffer that is sent; one `held` in a
    /// ``ResultBuffer`` (60,000 mappings) is sent where it is, with the head written in front.
    ///
    /// `held` is consumed: the head's write must find the only reference to its storage (`if var`
    /// of a borrowed buffer is a second one, and the write then copied all 8.7 MB, page faults and all).
    func response(id: JSON, _ result: JSON, held: consuming ByteBuffer? = nil) -> ByteBuffer {
        if var held = held.take() {
            var head = JSONWriter(capacity: 64)
            Response.writeHead(id: id, into: &head)
            let size = head.bytes.count + held.readableBytes + Response.resultTail.utf8CodeUnitCount
            guard size <= maxResponseBytes else { return tooLong(id: id, requested: size) }
            if head.bytes.count <= held.readerIndex {
                held.moveReaderIndex(to: held.readerIndex - head.bytes.count)
                held.setBytes(head.bytes, at: held.readerIndex)
                held.writeStaticString(Response.resultTail)
                return held
            }
            return response(id: id, .raw(Array(held.readableBytesView)))
        }
        guard case .raw(let text) = result else {
            let bytes = Response.result(id: id, result)
            guard bytes.count <= maxResponseBytes else { return tooLong(id: id, requested: bytes.count) }
            return line(bytes)
        }
        var head = JSONWriter(capacity: 64)
        Response.writeHead(id: id, into: &head)
        let size = head.bytes.count + text.count + Response.resultTail.utf8CodeUnitCount
        guard size <= maxResponseBytes else { return tooLong(id: id, requested: size) }
        var buffer = ByteBufferAllocator().buffer(capacity: size)
        buffer.withVeryUnsafeMutableBytes { HugePages.advise($0) }
        buffer.writeBytes(head.bytes)
        buffer.writeBytes(text)
        buffer.writeStaticString(Response.resultTail)
        return buffer
    }

    /// The error line that replaces a response of `requested` bytes.
    func tooLong(id: JSON, requested: Int) -> ByteBuffer {
        line(Response.error(id: id, .resourceLimit("responseBytes", limit: maxResponseBytes, requested: requested)))
    }

    /// A batch's response line (nil if every member was a notification), within the size limit:
    /// the members' lines joined into one array line (``Response/batch(_:)``'s text), copied once.
    func batch(_ replies: [ByteBuffer?]) -> ByteBuffer? {
        let lines = replies.compactMap { $0 }
        guard !lines.isEmpty else { return nil }
        let size = lines.reduce(2) { $0 + $1.readableBytes }  // "[", the members (a "," or "]" for each "\n"), "\n"
        guard size <= maxResponseBytes else { return tooLong(id: .null, requested: size) }
        var buffer = ByteBufferAllocator().buffer(capacity: size)
        buffer.writeInteger(UInt8(ascii: "["))
        for (offset, line) in lines.enumerated() {
            if offset > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
            buffer.writeImmutableBuffer(line.getSlice(at: line.readerIndex, length: line.readableBytes - 1)!)
        }
        buffer.writeBytes([UInt8(ascii: "]"), UInt8(ascii: "\n")])
        return buffer
    }

    /// A response line as the buffer that is sent.
    func line(_ bytes: [UInt8]) -> ByteBuffer { ByteBufferAllocator().buffer(bytes: bytes) }

    /// The failure of a call on the wire: ``WireErrors`` is the one place that decides.
    func wireError(_ error: Error, method: String) -> RPCError {
        WireErrors.rpcError(error, method: method, logger: logger)
    }
}
