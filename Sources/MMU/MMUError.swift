/// The one error type the simulator throws (typed throws: `throws(MMUError)`).
///
/// Simulated failures (ENOMEM from mmap, a segfault, an OOM kill) are *results*, never errors.
/// Errors are for requests the machine cannot take: an unknown pid, a machine that has panicked,
/// or an argument that is out of range. The server maps `code` to a JSON-RPC code at one boundary.
public struct MMUError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong; extensible like `FileSystemError.Code`.
    public struct Code: Hashable, Sendable, RawRepresentable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        /// No process with that pid on this machine (server: -32005).
        public static let unknownPID = Code(rawValue: "unknownPID")
        /// The machine panicked (`panicOnOom`); every later call gets this (server: -32004).
        public static let machinePanicked = Code(rawValue: "machinePanicked")
        /// A parameter is out of range or malformed; `parameter` names it (server: -32602).
        public static let invalidArgument = Code(rawValue: "invalidArgument")
        /// A limit of the simulator was reached (`resource` names it; server: -32003).
        public static let resourceLimit = Code(rawValue: "resourceLimit")
        /// The call's stop check said stop (server: the call was cancelled).
        public static let cancelled = Code(rawValue: "cancelled")
        public var description: String { rawValue }
    }

    public var code: Code
    /// A sentence a client can show as is.
    public var message: String
    /// The offending parameter's name, for `invalidArgument`.
    public var parameter: String?
    /// For `resourceLimit`: which limit (`simMemory`, `simProcesses`, `accesses`), its value, what was
    /// asked, and how many accesses or pages the call had done before it stopped (they stay done).
    public var resource: String?
    public var limit: Int?
    public var requested: Int?
    public var completed: Int?

    public init(code: Code, message: String, parameter: String? = nil) {
        self.code = code
        self.message = message
        self.parameter = parameter
    }

    static func limit(_ resource: String, limit: Int, requested: Int, completed: Int? = nil) -> MMUError {
        let message = "\(resource) limit exceeded: \(requested) requested, at most \(limit) allowed"
        var e = MMUError(code: .resourceLimit, message: message)
        e.resource = resource
        e.limit = limit
        e.requested = requested
        e.completed = completed
        return e
    }

    static func cancelled(completed: Int) -> MMUError {
        var e = MMUError(code: .cancelled, message: "stopped after \(completed) accesses")
        e.completed = completed
        return e
    }

    /// The same error with `completed` set (a resource limit or cancel reached inside a loop).
    func completing(_ done: Int) -> MMUError {
        guard code == .resourceLimit || code == .cancelled else { return self }
        var e = self
        e.completed = done + (completed ?? 0)
        return e
    }

    public var description: String {
        if let parameter { return "\(code): \(parameter): \(message)" }
        return "\(code): \(message)"
    }

    static func unknownPID(_ pid: Int) -> MMUError {
        MMUError(code: .unknownPID, message: "no process with pid \(pid) on this machine")
    }

    static func invalid(_ parameter: String, _ why: String) -> MMUError {
        MMUError(code: .invalidArgument, message: why, parameter: parameter)
    }
}
