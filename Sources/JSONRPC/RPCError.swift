/// A JSON-RPC error as the contract defines it: a code, a message a person can act
/// on, and `data` that always carries `kind`.
///
/// Handlers throw these; anything else thrown is turned into `-32603` at the one
/// boundary that writes responses (``Dispatcher``).
public struct RPCError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The wire code, extensible: new codes are new static members.
    public struct Code: RawRepresentable, Hashable, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }

        public static let parseError = Code(rawValue: -32700)
        public static let invalidRequest = Code(rawValue: -32600)
        public static let methodNotFound = Code(rawValue: -32601)
        public static let invalidParams = Code(rawValue: -32602)
        public static let internalError = Code(rawValue: -32603)
        public static let processNotFound = Code(rawValue: -32001)
        public static let permissionDenied = Code(rawValue: -32002)
        public static let resourceLimit = Code(rawValue: -32003)
        public static let unsupported = Code(rawValue: -32004)
        public static let simNotFound = Code(rawValue: -32005)
        public static let timeout = Code(rawValue: -32006)
    }

    public var code: Code
    public var message: String
    /// `kind` first, then whatever else the error names (pid, param, limit, …).
    public var data: JSONObject

    public init(_ code: Code, kind: String, _ message: String, data: JSONObject = [:]) {
        self.code = code
        self.message = message
        var all: JSONObject = ["kind": .string(kind)]
        all.members.append(contentsOf: data.members)
        self.data = all
    }

    public var kind: String { data["kind"]?.stringValue ?? "internal" }
    public var description: String { "error \(code.rawValue) \(kind): \(message)" }

    public var json: JSON {
        ["code": .int(code.rawValue), "message": .string(message), "data": .object(data)]
    }
}

extension RPCError {
    public static func parseError(_ reason: String) -> RPCError {
        RPCError(.parseError, kind: "parseError", "parse error: \(reason)")
    }

    public static func invalidRequest(_ reason: String) -> RPCError {
        RPCError(.invalidRequest, kind: "invalidRequest", "invalid request: \(reason)")
    }

    public static func requestTooLarge(limit: Int) -> RPCError {
        RPCError(
            .invalidRequest,
            kind: "requestTooLarge",
            "request line longer than \(limit) bytes; the connection will be closed",
            data: ["limit": .int(limit)]
        )
    }

    public static func methodNotFound(_ method: String) -> RPCError {
        RPCError(
            .methodNotFound,
            kind: "methodNotFound",
            "method '\(method)' not found (rpc.discover lists them)",
            data: ["method": .string(method)]
        )
    }

    public static func invalidParams(_ param: String?, _ reason: String) -> RPCError {
        var data: JSONObject = [:]
        if let param { data["param"] = .string(param) }
        data["reason"] = .string(reason)
        // The kind says "invalid params" already (memctl prints both): the message names the problem.
        let subject = param.map { "param '\($0)': " } ?? ""
        return RPCError(.invalidParams, kind: "invalidParams", "\(subject)\(reason)", data: data)
    }

    public static func internalError(_ message: String) -> RPCError {
        RPCError(.internalError, kind: "internal", message)
    }

    public static func processNotFound(_ pid: Int) -> RPCError {
        RPCError(.processNotFound, kind: "processNotFound", "process \(pid) not found", data: ["pid": .int(pid)])
    }

    public static func permissionDenied(pid: Int, reason: String) -> RPCError {
        RPCError(
            .permissionDenied,
            kind: "permissionDenied",
            "permission denied for process \(pid): \(reason)",
            data: ["pid": .int(pid), "reason": .string(reason)]
        )
    }

    /// `resource` names the limit (`batch`, `connections`, `experimentBytes`, …).
    public static func resourceLimit(_ resource: String, limit: Int, requested: Int) -> RPCError {
        RPCError(
            .resourceLimit,
            kind: "resourceLimit",
            "\(resource) limit exceeded: \(requested) requested, at most \(limit) allowed",
            data: ["resource": .string(resource), "limit": .int(limit), "requested": .int(requested)]
        )
    }

    public static func unsupported(_ reason: String) -> RPCError {
        RPCError(
            .unsupported,
            kind: "unsupported",
            "unsupported on this host: \(reason)",
            data: ["reason": .string(reason)]
        )
    }

    public static func simNotFound(_ message: String, data: JSONObject = [:]) -> RPCError {
        RPCError(.simNotFound, kind: "simNotFound", message, data: data)
    }

    public static func timeout(_ message: String) -> RPCError {
        RPCError(.timeout, kind: "timeout", message)
    }
}
