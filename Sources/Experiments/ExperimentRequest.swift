import JSONRPC
import MemdProtocol

extension ExperimentRequest {
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
