import ProcFS

/// Why an experiment did not produce a result, shaped like MMU's `MMUError`: a code,
/// a message a person can act on. memd turns it into a wire error at one boundary
/// (MemdServer's `WireErrors`); nothing here knows JSON-RPC codes.
public struct ExperimentError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// A limit of the server: `resource` names it (`experimentBytes`,
        /// `concurrentExperiments`, `experimentsPerUID`).
        case resourceLimit(resource: String, limit: Int, requested: Int)
        /// Not possible on this host (no memory cgroup, no simulator counterpart, …).
        case unsupported
        /// Cancelled by the client or memd, or past the timeout; the child was killed.
        case cancelled
        /// A process the experiment reads is gone.
        case processNotFound(pid: Int32)
        /// memlab wrote something memd does not accept (too long, out of range, a pid
        /// that is not its own descendant): the experiment ends and memd logs it.
        case untrustedOutput
        /// Anything else that went wrong (a failed syscall, a child that failed).
        case failed
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    static func internalError(_ message: String) -> ExperimentError { .init(.failed, message) }
    static func unsupported(_ message: String) -> ExperimentError { .init(.unsupported, message) }
    static func timeout(_ message: String) -> ExperimentError { .init(.cancelled, message) }
    static func untrusted(_ message: String) -> ExperimentError {
        .init(.untrustedOutput, "the experiment helper wrote something memd does not accept: \(message)")
    }
    /// A /proc read of process `pid` that failed: gone is `processNotFound`.
    static func proc(_ error: ProcError, pid: Int32) -> ExperimentError {
        if case .notFound = error { return .init(.processNotFound(pid: pid), "process \(pid) is gone: \(error)") }
        return .internalError("reading /proc: \(error)")
    }

    static func resourceLimit(_ resource: String, limit: Int, requested: Int) -> ExperimentError {
        .init(
            .resourceLimit(resource: resource, limit: limit, requested: requested),
            "\(resource): \(requested) requested, limit \(limit)"
        )
    }
}
