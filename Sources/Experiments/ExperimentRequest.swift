import JSONRPC

/// The seed's experiments, by their wire names.
public enum ExperimentName: String, Sendable, CaseIterable {
    case segv, mmap, malloc, filemap, demandPaging, cow, vmExhaustion, oom
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

    /// The bytes the child really allocates (touches), which the shared size budget
    /// counts: `cow` holds its region twice once the child has written it; `mmap`
    /// maps without touching, `vmExhaustion`'s attempt is refused, `segv` allocates
    /// nothing; `filemap` touches one page of its file; `oom`'s cgroup stops it at
    /// `sizeBytes`.
    public var allocatedBytes: Int {
        switch name {
        case .cow: return sizeBytes > Int.max / 2 ? Int.max : 2 * sizeBytes
        case .demandPaging, .malloc, .oom: return sizeBytes
        case .filemap: return Self.minimumBytes
        case .mmap, .vmExhaustion, .segv: return 0
        }
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

/// Who asked: the peer credentials of the client's socket (SO_PEERCRED). The
/// experiment child runs as this uid and gid.
public struct ClientIdentity: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32

    public init(uid: UInt32, gid: UInt32) {
        self.uid = uid
        self.gid = gid
    }
}

/// The bounds every experiment runs within (memd's options).
public struct ExperimentLimits: Sendable, Equatable {
    /// Largest `sizeBytes`; nil: min(1 GiB, 25% of MemAvailable), read at each call.
    public var maxBytes: Int?
    /// Experiments running at once, over all clients.
    public var maxConcurrent: Int
    /// Experiments running at once for one uid other than root.
    public var maxPerUID: Int
    /// Wall time for one experiment, from spawn to reap.
    public var timeout: Duration
    /// Where `filemap` makes its directory (memd.<pid>.XXXXXX): `$TMPDIR`, else /tmp.
    public var temporaryDirectory: String

    public init(
        maxBytes: Int? = nil,
        maxConcurrent: Int = 2,
        maxPerUID: Int = 1,
        timeout: Duration = .seconds(120),
        temporaryDirectory: String = Leftovers.temporaryDirectory
    ) {
        self.maxBytes = maxBytes
        self.maxConcurrent = maxConcurrent
        self.maxPerUID = maxPerUID
        self.timeout = timeout
        self.temporaryDirectory = temporaryDirectory
    }

    /// The protocol's default size limit: min(1 GiB, 25% of MemAvailable).
    public static func defaultMaxBytes(memAvailable: Int) -> Int {
        min(1 << 30, memAvailable / 4)
    }
}
