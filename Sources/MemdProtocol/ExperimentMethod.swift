import JSONRPC

/// The seed's experiments, by their wire names.
public enum ExperimentName: String, Sendable, CaseIterable {
    case segv, mmap, malloc, filemap, demandPaging, cow, vmExhaustion, oom

    /// Whether `sizeBytes` changes what the experiment does (segv touches one unmapped page).
    public var takesSize: Bool { self != .segv }

    /// Whether `stepBytes` changes what the experiment does: the touching (or allocating) in
    /// steps, a sample after each.
    public var takesStep: Bool { [.malloc, .demandPaging, .cow, .oom].contains(self) }
}

/// Where an experiment runs: the kernel, the MMU simulator, or both side by side.
public enum ExperimentBackend: String, Sendable, CaseIterable {
    case real, sim, both
}

/// The params of `runExperiment`.
public struct ExperimentRequest: Sendable, Equatable {
    public static let defaultSizeBytes = 100 << 20
    public static let defaultStepBytes = 10 << 20

    public var name: ExperimentName
    public var sizeBytes: Int
    public var stepBytes: Int
    public var backend: ExperimentBackend
    /// false: the region is madvised MADV_NOHUGEPAGE (4 KiB pages, the seed's numbers).
    public var hugePages: Bool
    /// Whether the caller wants `experiment.progress` notifications.
    public var progress: Bool

    public init(
        name: ExperimentName,
        sizeBytes: Int = defaultSizeBytes,
        stepBytes: Int = defaultStepBytes,
        backend: ExperimentBackend = .real,
        hugePages: Bool = false,
        progress: Bool = false
    ) {
        self.name = name
        self.sizeBytes = sizeBytes
        self.stepBytes = stepBytes
        self.backend = backend
        self.hugePages = hugePages
        self.progress = progress
    }

    /// The smallest size and step (experiments.md): one 4 KiB page, the unit memlab touches.
    public static let minimumBytes = 4096

    /// Reads `runExperiment` params (by name); unknown or ill-typed params are -32602.
    public init(params: JSONObject) throws(RPCError) {
        var reader = ParamReader(params)
        try self.init(reading: &reader)
        try reader.finish()
    }

    /// Reads the params from a reader the caller finishes (so it may read more of its own).
    public init(reading reader: inout ParamReader) throws(RPCError) {
        guard let name = try reader.choice("name", as: ExperimentName.self) else {
            throw .invalidParams("name", "required")
        }
        self.name = name
        sizeBytes = try reader.int("sizeBytes", min: Self.minimumBytes) ?? Self.defaultSizeBytes
        stepBytes = try reader.int("stepBytes", min: Self.minimumBytes) ?? Self.defaultStepBytes
        backend = try reader.choice("backend", as: ExperimentBackend.self) ?? .real
        hugePages = try reader.bool("hugePages") ?? false
        progress = try reader.bool("progress") ?? false
    }
}

/// `runExperiment` — one of the seed's experiments, run for real in a child process (and/or on
/// a simulated machine) and measured from /proc (experiments.md).
public enum RunExperimentMethod: MethodDescriptor, ClientMethod {
    public static let name = "runExperiment"
    public static let progressNotification = "experiment.progress"

    public static func decode(_ params: inout ParamReader) throws(RPCError) -> ExperimentRequest {
        try ExperimentRequest(reading: &params)
    }

    public static func encode(_ p: ExperimentRequest) -> JSONObject {
        var o: JSONObject = ["name": .string(p.name.rawValue)]
        if p.sizeBytes != ExperimentRequest.defaultSizeBytes { o["sizeBytes"] = .int(p.sizeBytes) }
        if p.stepBytes != ExperimentRequest.defaultStepBytes { o["stepBytes"] = .int(p.stepBytes) }
        if p.backend != .real { o["backend"] = .string(p.backend.rawValue) }
        if p.hugePages { o["hugePages"] = true }
        if p.progress { o["progress"] = true }
        return o
    }

    /// The result (`RunExperimentResult`): which experiment, where it ran, how long it took,
    /// and the figures of each side. The figures differ from experiment to experiment
    /// (`ExperimentFigures`: snapshots, samples, a verdict), so they stay JSON objects here.
    public struct Result: WireValue {
        public var name: ExperimentName
        public var backend: ExperimentBackend
        public var durationMs: Int
        /// The kernel's figures; nil with `backend: sim`.
        public var real: JSONObject?
        /// The simulator's figures; nil with `backend: real`; `.null` where the simulator has no
        /// counterpart (malloc).
        public var sim: JSON?
        /// `{real, sim}` pairs and a note on why they differ (`backend: both`).
        public var comparison: JSONObject?

        public init(name: ExperimentName, backend: ExperimentBackend, durationMs: Int = 0) {
            (self.name, self.backend, self.durationMs) = (name, backend, durationMs)
        }

        public var json: JSON {
            var o: JSONObject = [
                "name": .string(name.rawValue), "backend": .string(backend.rawValue), "durationMs": .int(durationMs),
            ]
            if let real { o["real"] = .object(real) }
            if let sim { o["sim"] = sim }
            if let comparison { o["comparison"] = .object(comparison) }
            return .object(o)
        }

        public init(json: JSON) throws(WireDecodingError) {
            let r = try WireReader(json)
            name = try r.choice("name")
            backend = try r.choice("backend")
            durationMs = try r.int("durationMs")
            real = r.contains("real") ? try r.objectMember("real") : nil
            sim = r.contains("sim") ? try r.value("sim") : nil
            comparison = r.contains("comparison") ? try r.objectMember("comparison") : nil
        }
    }
}
