/// A method of the protocol, typed: its wire name, its params decoded once and
/// checked (unknown params rejected), and its result, encoded by one encoder (`JSON` itself
/// where a method has no typed result).
public protocol MethodDescriptor: Sendable {
    associatedtype Params: Sendable
    associatedtype Result: WireValue = JSON
    static var name: String { get }
    static func decode(_ params: inout ParamReader) throws(RPCError) -> Params
}

/// What a handler made of a call where it was read: the result already, or work that
/// may take long and runs as a task (cancellable).
public enum Outcome<Value: Sendable>: Sendable {
    case now(Value)
    case later(@Sendable () async throws -> Value)
}

extension Outcome where Value: WireValue {
    /// The same outcome, its result encoded.
    public var encoded: Outcome<JSON> {
        switch self {
        case .now(let value): return .now(value.json)
        case .later(let work): return .later { try await work().json }
        }
    }
}

/// The methods a server answers, keyed by name.
///
/// Every handler is called where the request was read, once: it decodes its params
/// (so bad params are answered at once) and either answers (`inline`: a /proc file or
/// two, microseconds) or hands back the work that may take long (`async`; `method`
/// lets one method decide per call, e.g. `meminfo` of /proc now, of a simulated
/// machine later).
public struct MethodTable<Context: Sendable>: Sendable {
    public typealias Handler = @Sendable (Request.Params, Context) throws -> Outcome<JSON>

    public private(set) var handlers: [String: Handler] = [:]

    public init() {}

    public subscript(method: String) -> Handler? { handlers[method] }

    /// A method that decides per call whether it answers now or later.
    public mutating func method<M: MethodDescriptor>(
        _ method: M.Type,
        _ body: @escaping @Sendable (M.Params, Context) throws -> Outcome<M.Result>
    ) {
        handlers[M.name] = { raw, context in try body(try MethodTable.decode(M.self, raw), context).encoded }
    }

    /// A method that decides per call, and answers with its result's text already written (a text
    /// shared by many calls is encoded once): the result is still `M.Result`'s, in its encoding.
    public mutating func method<M: MethodDescriptor>(
        _ method: M.Type,
        _ body: @escaping @Sendable (M.Params, Context) throws -> Outcome<JSON>
    ) where M.Result: WireValue {
        handlers[M.name] = { raw, context in try body(try MethodTable.decode(M.self, raw), context) }
    }

    public mutating func inline<M: MethodDescriptor>(
        _ method: M.Type,
        _ body: @escaping @Sendable (M.Params, Context) throws -> M.Result
    ) {
        handlers[M.name] = { raw, context in .now(try body(try MethodTable.decode(M.self, raw), context).json) }
    }

    public mutating func async<M: MethodDescriptor>(
        _ method: M.Type,
        _ body: @escaping @Sendable (M.Params, Context) async throws -> M.Result
    ) {
        handlers[M.name] = { raw, context in
            let params = try MethodTable.decode(M.self, raw)
            return .later { try await body(params, context).json }
        }
    }

    /// A method's params as its handler gets them: decoded by its descriptor, unknown members refused.
    public static func decode<M: MethodDescriptor>(_ method: M.Type, _ raw: Request.Params) throws(RPCError) -> M.Params
    {
        var params = try ParamReader(raw)
        let typed = try M.decode(&params)
        try params.finish()
        return typed
    }
}
