import ExperimentsShims
import JSONRPC
import MemdProtocol
import ProcFS
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs `runExperiment`: each experiment in a memlab child, measured from /proc.
///
/// Copies share one concurrency count, so make one runner for the server and
/// share it. `run` is safe to call from many tasks at once.
public struct ExperimentRunner: Sendable {
    public let helperPath: String
    public let limits: ExperimentLimits
    private let running: Running

    /// What runs now, over all clients: the admission state, behind one lock.
    private final class Running: Sendable {
        struct State {
            var count = 0
            var perUID: [UInt32: Int] = [:]
            /// The sum of ``ExperimentRequest/allocatedBytes`` of the experiments running.
            var bytes = 0
        }
        let state = Mutex(State())
    }

    /// `helperPath`: the memlab executable (built beside memd: `.build/<config>/memlab`).
    public init(helperPath: String, limits: ExperimentLimits = ExperimentLimits()) {
        self.helperPath = helperPath
        self.limits = limits
        self.running = Running()
    }

    /// The size limit in force now: `limits.maxBytes`, or min(1 GiB, 25% of MemAvailable).
    public func maxBytes() throws(ExperimentError) -> Int {
        if let fixed = limits.maxBytes { return fixed }
        var proc = ProcReader()
        do {
            return ExperimentLimits.defaultMaxBytes(memAvailable: FreeFigures(try proc.meminfo()).available)
        } catch {
            throw .internalError("reading /proc/meminfo: \(error)")
        }
    }

    /// Runs one experiment and returns the whole `runExperiment` result:
    /// `{name, backend, durationMs, real?, sim?, comparison?}`.
    ///
    /// - Cancelling the calling task (the server does on `$/cancelRequest`, client
    ///   disconnect or shutdown) kills memlab's whole process group, reaps it, removes
    ///   its temporary file or cgroup, and throws -32006; so does the timeout.
    /// - `progress` gets `{phase, message, touchedBytes?, totalBytes?}` at each phase
    ///   and step when `request.progress` is true, from the experiment's own thread;
    ///   the server adds `requestId` and sends `experiment.progress`.
    /// - Throws `ExperimentError` (memd: -32003 size or concurrency, -32004 unsupported on this
    ///   host (no cgroup for `oom`, no simulator), -32006 timeout or cancel, -32001, -32603).
    public func run(
        _ request: ExperimentRequest,
        client: ClientIdentity,
        progress: @escaping @Sendable (JSON) -> Void = { _ in }
    ) async throws -> JSON {
        try await experiment(request, client: client, progress: progress).json
    }

    /// Runs `request` for `client`: the typed result of `runExperiment`.
    public func experiment(
        _ request: ExperimentRequest,
        client: ClientIdentity,
        progress: @escaping @Sendable (JSON) -> Void = { _ in }
    ) async throws -> RunExperimentMethod.Result {
        var request = request
        request.stepBytes = min(request.stepBytes, request.sizeBytes)
        let limit = try maxBytes()
        guard request.sizeBytes <= limit else {
            throw ExperimentError.resourceLimit("experimentBytes", limit: limit, requested: request.sizeBytes)
        }
        if request.backend == .sim && request.name == .malloc {
            throw ExperimentError.unsupported(
                "malloc has no simulator counterpart: a simulated process has no C library"
            )
        }
        // The simulator allocates in memd's own (budgeted) memory, not the host's.
        let cost = request.backend == .sim ? 0 : request.allocatedBytes
        try acquire(client: client, bytes: cost, limit: limit)
        defer { release(client: client, bytes: cost) }

        let started = ContinuousClock.now
        let wantsProgress = request.progress
        let report: @Sendable (JSON) -> Void = { params in if wantsProgress { progress(params) } }
        var result = RunExperimentMethod.Result(name: request.name, backend: request.backend)
        var real: JSONObject?
        if request.backend != .sim {
            real = try await runReal(request, client: client, progress: report)
            result.real = real
        }
        if request.backend != .real {
            report(["phase": "sim", "message": "running the same steps on a fresh simulated machine"])
            if request.name == .malloc {
                result.sim = .null
                result.comparison = [
                    "note":
                        "malloc has no simulator counterpart: a simulated process has no C library, whose pools are what this experiment shows"
                ]
            } else {
                let simStarted = ContinuousClock.now
                var sim = try SimExperiment(request: request).run()
                sim["durationMs"] = .int(milliseconds(ContinuousClock.now - simStarted))
                result.sim = .object(sim)
                if let real {
                    result.comparison = compare(request.name, real: real, sim: sim, hugePages: request.hugePages)
                }
            }
        }
        result.durationMs = milliseconds(ContinuousClock.now - started)
        return result
    }

    /// Admits one experiment, or throws which limit it would pass: experiments at once
    /// (`concurrentExperiments`), per uid other than root (`experimentsPerUID`), and the
    /// bytes all running experiments really allocate together (`experimentBytes`).
    private func acquire(client: ClientIdentity, bytes: Int, limit: Int) throws(ExperimentError) {
        let maximum = limits.maxConcurrent
        let perUID = limits.maxPerUID
        let refusal: ExperimentError? = running.state.withLock { state in
            guard state.count < maximum else {
                return .resourceLimit("concurrentExperiments", limit: maximum, requested: state.count + 1)
            }
            let mine = state.perUID[client.uid, default: 0]
            if client.uid != 0, mine >= perUID {
                return .resourceLimit("experimentsPerUID", limit: perUID, requested: mine + 1)
            }
            let (total, overflow) = state.bytes.addingReportingOverflow(bytes)
            guard !overflow, total <= limit else {
                var error = ExperimentError.resourceLimit(
                    "experimentBytes",
                    limit: limit,
                    requested: overflow ? Int.max : total
                )
                error.message =
                    "experimentBytes: this experiment allocates \(bytes) bytes and the ones running \(state.bytes);"
                    + " together they may use at most \(limit) (min(1 GiB, 25% of MemAvailable))"
                return error
            }
            state.count += 1
            state.perUID[client.uid] = mine + 1
            state.bytes = total
            return nil
        }
        if let refusal { throw refusal }
    }

    private func release(client: ClientIdentity, bytes: Int) {
        running.state.withLock { state in
            state.count -= 1
            state.bytes -= bytes
            let mine = state.perUID[client.uid, default: 1] - 1
            state.perUID[client.uid] = mine > 0 ? mine : nil
        }
    }

    /// The real backend: memlab on its own thread, this task waiting for it.
    func runReal(
        _ request: ExperimentRequest,
        client: ClientIdentity,
        progress: @escaping @Sendable (JSON) -> Void
    )
        async throws -> JSONObject
    {
        // filemap's directory, memd.<pid>.XXXXXX (mkdtemp), the client's own.
        let directory =
            request.name == .filemap
            ? try ExperimentDirectory(in: limits.temporaryDirectory, owner: geteuid() == 0 ? client : nil) : nil
        let arguments = try helperArguments(request, client: client, temporaryDirectory: directory?.path)
        // A cow child orphaned by a kill must come back to memd to be reaped.
        _ = Self.subreaper
        let wake = try WakePipe()
        let deadline = ContinuousClock.now + limits.timeout
        let conversation = HelperConversation(
            helperPath: helperPath,
            arguments: arguments,
            deadline: deadline,
            wake: wake,
            progress: { phase, event in progress(progressParams(request, phase: phase, event: event)) }
        )
        // Made before memlab starts: no cgroup, no experiment (-32004).
        let cgroup = request.name == .oom ? try MemoryCgroup(limitBytes: request.sizeBytes) : nil
        let timeout = limits.timeout

        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<JSONObject, Error>) in
                do {
                    try runOnOwnThread {
                        continuation.resume(
                            with: Result { () throws(ExperimentError) -> JSONObject in
                                try Self.converse(
                                    conversation,
                                    request: request,
                                    cgroup: cgroup,
                                    directory: directory,
                                    timeout: timeout
                                )
                            }
                        )
                    }
                } catch {
                    var cgroup = cgroup
                    cgroup?.remove()
                    directory?.remove()
                    continuation.resume(throwing: error)
                }
            }
        } onCancel: {
            wake.wake()
        }
    }

    /// On the experiment's thread: the probe for the experiment, memlab's run, the result.
    private static func converse(
        _ conversation: HelperConversation,
        request: ExperimentRequest,
        cgroup: MemoryCgroup?,
        directory: ExperimentDirectory?,
        timeout: Duration
    ) throws(ExperimentError) -> JSONObject {
        let startTime = ContinuousClock.now
        var context = ProbeContext(request: request)
        func run<Probe: ExperimentProbe>(_ probe: Probe) throws(ExperimentError) -> JSONObject {
            var probe = probe
            defer { probe.cleanUp() }
            let outcome = try conversation.run(&probe, &context)
            switch outcome.end {
            case .cancelled:
                throw .timeout("experiment \(request.name.rawValue) cancelled; its child process was killed")
            case .timedOut:
                throw .timeout(
                    "experiment \(request.name.rawValue) timed out after \(timeout.components.seconds) s; its child process was killed"
                )
            case .finished:
                break
            }
            let started = outcome.event("started")
            var real: JSONObject = [
                "pid": .int(Int(outcome.pid)),
                "uid": started?["statusUid"] ?? started?["uid"] ?? .null,
                "durationMs": .int(milliseconds(ContinuousClock.now - startTime)),
            ]
            real.members.append(contentsOf: try probe.finish(outcome, &context).members)
            return real
        }
        switch request.name {
        case .segv: return try run(SegvProbe())
        case .mmap: return try run(MmapProbe())
        case .malloc: return try run(MallocProbe())
        case .filemap:
            guard let directory else { throw .internalError("no directory for the filemap experiment") }
            return try run(FilemapProbe(directory: directory))
        case .demandPaging: return try run(DemandPagingProbe())
        case .cow: return try run(CowProbe())
        case .vmExhaustion: return try run(VMExhaustionProbe())
        case .oom:
            guard let cgroup else { throw .internalError("no cgroup for the oom experiment") }
            return try run(OOMProbe(cgroup: cgroup))
        }
    }

    /// memlab's command line; as root, it drops to the client's uid and gid first.
    func helperArguments(
        _ request: ExperimentRequest,
        client: ClientIdentity,
        temporaryDirectory: String? = nil
    )
        throws(ExperimentError) -> [String]
    {
        var arguments = [
            request.name.rawValue, "--size", String(request.sizeBytes), "--step", String(request.stepBytes),
            "--huge", request.hugePages ? "1" : "0",
        ]
        if let temporaryDirectory { arguments += ["--tmpdir", temporaryDirectory] }
        let me = geteuid()
        if me == 0 {
            if client.uid != 0 || client.gid != getegid() {
                arguments += ["--uid", String(client.uid), "--gid", String(client.gid)]
            }
        } else if client.uid != me {
            throw .unsupported(
                "memd runs as uid \(me), not root, so it cannot run an experiment as uid \(client.uid)"
            )
        }
        return arguments
    }

    /// memd becomes a child subreaper once, on the first experiment.
    private static let subreaper: Int32 = memd_become_child_subreaper()
}

/// The params of one `experiment.progress` notification (the server adds `requestId`).
func progressParams(_ request: ExperimentRequest, phase: String, event: JSONObject) -> JSON {
    let touched = event["touchedBytes"]?.intValue ?? 0
    var params: JSONObject = ["phase": .string(phase)]
    let mib = { (bytes: Int) in bytes % (1 << 20) == 0 ? "\(bytes >> 20) MiB" : "\(bytes) bytes" }
    let message: String
    switch phase {
    case "touched" where request.name == .oom:
        message = "touched \(mib(touched)) in a cgroup limited to \(mib(request.sizeBytes))"
    case "touched", "writing":
        message = "\(phase == "writing" ? "wrote" : "touched") \(mib(touched)) of \(mib(request.sizeBytes))"
    case "allocating":
        message = "malloc'd \(mib(touched)) of \(mib(request.sizeBytes))"
    case "started":
        message = "\(request.name.rawValue): the child process started"
    case "beforeAlloc":
        message = "before allocation"
    case "allocated" where request.name == .demandPaging:
        message = "mapped \(mib(request.sizeBytes)) of virtual memory; nothing touched yet"
    case "beforeFork":
        message = "touched \(mib(request.sizeBytes)); forking"
    case "beforeWrite":
        message = "forked; the child is about to write every page"
    case "afterWrite":
        message = "the child wrote every page"
    case "ready" where request.name == .oom:
        message = "in a memory cgroup limited to \(mib(request.sizeBytes)); allocating \(mib(2 * request.sizeBytes))"
    default:
        message = "\(request.name.rawValue): \(phase)"
    }
    params["message"] = .string(message)
    if ["touched", "writing", "allocating", "allocated", "beforeFork", "afterWrite"].contains(phase) {
        params["touchedBytes"] = .int(touched)
        params["totalBytes"] = .int(request.name == .oom ? 2 * request.sizeBytes : request.sizeBytes)
    }
    return .object(params)
}

func milliseconds(_ duration: Duration) -> Int {
    Int(duration / .milliseconds(1))
}
