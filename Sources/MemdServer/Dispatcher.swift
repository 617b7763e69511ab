import JSONRPC
import Logging

/// Turns one entry into its response bytes (nil for notifications), mapping every
/// error to the wire at this one boundary: RPCError as it is, cancellation as
/// -32006, anything else -32603 (and logged).
struct Dispatcher: Sendable {
    let methods: MethodTable<CallContext>
    let logger: Logger
    let work: WaitingWork
    let maxResponseBytes: Int

    enum Plan {
        case reply([UInt8])
        case none
        case inline(MethodTable<CallContext>.Handler, Request)
        case async(Request)
        case cancel(JSON, reply: Request?)
    }

    /// Decides what an entry needs without running anything slow.
    func plan(_ entry: Entry) -> Plan {
        switch entry {
        case .invalid(let id, let error):
            return .reply(Response.error(id: id, error))
        case .notification(let request), .request(let request):
            let isNotification: Bool
            if case .notification = entry { isNotification = true } else { isNotification = false }
            if request.method == "$/cancelRequest" {
                guard case .byName(let params) = request.params, let id = params["id"] else {
                    return isNotification
                        ? .none : .reply(Response.error(id: request.id, .invalidParams("id", "required")))
                }
                return .cancel(id, reply: isNotification ? nil : request)
            }
            guard let handler = methods[request.method] else {
                return isNotification ? .none : .reply(Response.error(id: request.id, .methodNotFound(request.method)))
            }
            switch handler {
            case .inline: return .inline(handler, request)
            case .async: return .async(request)
            }
        }
    }

    func isNotification(_ entry: Entry) -> Bool {
        if case .notification = entry { return true }
        return false
    }

    /// Runs an inline handler now.
    func runInline(
        _ handler: MethodTable<CallContext>.Handler, _ request: Request, isNotification: Bool, context: CallContext
    ) -> [UInt8]? {
        guard case .inline(let body) = handler else { return nil }
        do {
            let result = try body(request.params, context)
            return isNotification ? nil : Response.result(id: request.id, result)
        } catch {
            return isNotification ? nil : Response.error(id: request.id, wireError(error, method: request.method))
        }
    }

    /// Runs any entry, possibly for long; used by tasks.
    func run(_ entry: Entry, context: (Request) -> CallContext) async -> [UInt8]? {
        switch plan(entry) {
        case .reply(let bytes): return bytes
        case .none: return nil
        case .cancel(_, let request): return request.map { Response.result(id: $0.id, .null) }
        case .inline(let handler, let request):
            return runInline(handler, request, isNotification: isNotification(entry), context: context(request))
        case .async(let request):
            guard case .async(let body)? = methods[request.method] else { return nil }
            let isNotification = isNotification(entry)
            do {
                let result = try await body(request.params, context(request))
                if Task.isCancelled { throw CancellationError() }
                return isNotification ? nil : Response.result(id: request.id, result)
            } catch {
                return isNotification ? nil : Response.error(id: request.id, wireError(error, method: request.method))
            }
        }
    }

    func wireError(_ error: Error, method: String) -> RPCError {
        switch error {
        case let error as RPCError:
            return error
        case is CancellationError:
            return .timeout("call cancelled")
        default:
            logger.error("\(method) failed", metadata: ["error": "\(error)"])
            return .internalError("\(method) failed: \(error)")
        }
    }
}
