/// A method of the protocol, typed: its wire name, its params decoded once and
/// checked (unknown params rejected), and its result as JSON.
public protocol MethodDescriptor: Sendable {
    associatedtype Params: Sendable
    static var name: String { get }
    static func decode(_ params: inout ParamReader) throws(RPCError) -> Params
}


/// The methods a server answers, keyed by name.
///
/// `inline` handlers are cheap and synchronous (a /proc file or two): the server
/// may run them where the request was read, saving a thread hop. `async`
/// handlers may take long (experiments, large walks) and run as tasks that can
/// be cancelled.
public struct MethodTable<Context: Sendable>: Sendable {
    public enum Handler: Sendable {
        case inline(@Sendable (Request.Params, Context) throws -> JSON)
        case async(@Sendable (Request.Params, Context) async throws -> JSON)
    }

    public private(set) var handlers: [String: Handler] = [:]

    public init() {}

    public subscript(method: String) -> Handler? { handlers[method] }

    public mutating func inline<M: MethodDescriptor>(
        _ method: M.Type, _ body: @escaping @Sendable (M.Params, Context) throws -> JSON
    ) {
        handlers[M.name] = .inline { raw, context in
            try body(try MethodTable.decode(M.self, raw), context)
        }
    }

    public mutating func async<M: MethodDescriptor>(
        _ method: M.Type, _ body: @escaping @Sendable (M.Params, Context) async throws -> JSON
    ) {
        handlers[M.name] = .async { raw, context in
            try await body(try MethodTable.decode(M.self, raw), context)
        }
    }

    static func decode<M: MethodDescriptor>(_ method: M.Type, _ raw: Request.Params) throws(RPCError) -> M.Params {
        var params = try ParamReader(raw)
        let typed = try M.decode(&params)
        try params.finish()
        return typed
    }
}
