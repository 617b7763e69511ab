import Experiments
import JSONRPC
import Logging
import MMU
import ProcFS

/// A /proc read of process `pid` made for `peer` that failed: on the wire -32001 when the
/// process is gone, -32002 when the read was refused (the message says why, for `peer`).
struct ProcessReadError: Error, CustomStringConvertible {
    let pid: Int32
    /// Who asked; nil when the message need not explain the refusal to anyone.
    let peer: PeerCredentials?
    let error: ProcError

    init(pid: Int32, peer: PeerCredentials? = nil, _ error: ProcError) {
        (self.pid, self.peer, self.error) = (pid, peer, error)
    }

    var description: String { "process \(pid): \(error)" }
}

/// A host-wide /proc file (meminfo, vmstat, pressure, the pid list) that could not be read:
/// memd's own failure, -32603.
struct HostReadError: Error, CustomStringConvertible {
    let error: ProcError

    init(_ error: ProcError) { self.error = error }

    var description: String { error.description }
}

/// The simulator's error on machine `machine` (nil: while it was being created).
struct SimError: Error, CustomStringConvertible {
    let machine: String?
    let error: MMUError

    init(machine: String?, _ error: MMUError) { (self.machine, self.error) = (machine, error) }

    var description: String { error.description }
}

/// The one boundary where errors become wire errors (``Dispatcher`` calls it for every failed
/// call): an `RPCError` as it is (params and limits are wire errors by construction), a
/// cancellation -32006, each domain error by its code, anything else -32603, logged.
enum WireErrors {
    static func rpcError(_ error: any Error, method: String, logger: Logger) -> RPCError {
        switch error {
        case let error as RPCError:
            return error
        case is CancellationError:
            return cancelled
        case let error as ProcessReadError:
            return rpcError(error)
        case let error as HostReadError:
            return .internalError(error.description)
        case let error as SimError:
            return rpcError(error)
        case let error as ExperimentError:
            return rpcError(error, logger: logger)
        default:
            logger.error("\(method) failed", metadata: ["error": "\(error)"])
            return .internalError("\(method) failed: \(error)")
        }
    }

    static let cancelled = RPCError.timeout("call cancelled")

    /// A process that vanished mid-read is -32001, a refusal -32002.
    static func rpcError(_ failure: ProcessReadError) -> RPCError {
        let (pid, peer) = (failure.pid, failure.peer)
        switch failure.error {
        case .notFound: return .processNotFound(Int(pid))
        case .permissionDenied(let path):
            // For the message only: the decision was taken on the descriptors.
            if let peer, !peer.isRoot, let owner = try? processOwner(pid: pid) {
                guard owner == peer.uid else {
                    return .permissionDenied(
                        pid: Int(pid),
                        reason: "process \(pid) belongs to uid \(owner), not to you (uid \(peer.uid))"
                    )
                }
                return .permissionDenied(
                    pid: Int(pid),
                    reason: "process \(pid) is not dumpable (a setuid program, or it changed its credentials): "
                        + "the kernel would not let uid \(peer.uid) read it either"
                )
            }
            return .permissionDenied(pid: Int(pid), reason: "the kernel refused to let memd read \(path)")
        case .io, .malformed: return .internalError(failure.error.description)
        }
    }

    /// The simulator's errors: unknown pid -32005, panicked machine -32004, bad argument -32602,
    /// a limit -32003 (with how much was done), a stop -32006.
    static func rpcError(_ failure: SimError) -> RPCError {
        let (error, machine) = (failure.error, failure.machine)
        switch error.code {
        case .unknownPID:
            var data: JSONObject = [:]
            if let machine { data["machine"] = .string(machine) }
            var message = error.message
            if let machine {
                message =
                    message.hasSuffix(" on this machine")
                    ? String(message.dropLast(" on this machine".count)) + " on machine \(machine)"
                    : message + " (machine \(machine))"
            }
            return .simNotFound(message, data: data)
        case .machinePanicked:
            return .unsupported("machine \(machine ?? "?") panicked: \(error.message)")
        case .invalidArgument:
            return .invalidParams(error.parameter, error.message)
        case .resourceLimit:
            var e = RPCError.resourceLimit(
                error.resource ?? "simulator",
                limit: error.limit ?? 0,
                requested: error.requested ?? 0
            )
            // simMemory always says how much of the call was done (0: it stopped before the first step).
            if let done = error.completed ?? (error.resource == "simMemory" ? 0 : nil) {
                e.data["completed"] = .int(done)
            }
            return e
        case .cancelled:
            return cancelled
        default:
            return .internalError(error.description)
        }
    }

    /// An experiment's failure; the helper's untrusted output and other failures are logged.
    static func rpcError(_ error: ExperimentError, logger: Logger) -> RPCError {
        switch error.code {
        case .resourceLimit(let resource, let limit, let requested):
            return .resourceLimit(resource, limit: limit, requested: requested)
        case .unsupported: return .unsupported(error.message)
        case .cancelled: return .timeout(error.message)
        case .processNotFound(let pid): return .processNotFound(Int(pid))
        case .untrustedOutput:
            logger.error("experiment ended: untrusted helper output", metadata: ["error": "\(error.message)"])
            return .internalError(error.message)
        case .failed:
            logger.error("experiment failed", metadata: ["error": "\(error.message)"])
            return .internalError(error.message)
        }
    }
}
