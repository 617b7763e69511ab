import MemdMetrics

/// memd's options: the socket and the limits of the contract, each a `memd` flag.
public struct ServerConfig: Sendable {
    public var socketPath: String
    /// Mode of the socket file (0600: only the owner may connect).
    public var socketMode: UInt32 = 0o600
    public var maxRequestBytes = 1 << 20
    public var maxBatch = 1000
    public var maxConnections = 256
    /// Connections of one uid other than root.
    public var maxConnectionsPerUID = 64
    /// Responses waiting to be sent on a connection above which memd stops reading it.
    public var maxUnsentBytes = 4 << 20
    public var maxInFlight = 64
    /// A connection holding a partial line with no new byte for this long is closed.
    public var idlePartialLineSeconds: Double = 30
    /// Simulated machines per uid.
    public var maxMachinesPerUID = 16
    /// Host bytes all simulated machines may hold together (`-32003 simMemory` beyond).
    public var maxSimMemory = 1 << 30
    /// Processes per simulated machine (`-32003 simProcesses` beyond).
    public var maxSimProcesses = 1024
    /// Watches running at once per uid other than root.
    public var maxWatchesPerUID = 16
    /// Experiments at once (server-wide).
    public var maxExperiments = 2
    /// Experiments at once for one uid other than root.
    public var maxExperimentsPerUID = 1
    /// Seconds an experiment may run before it is killed (-32006).
    public var experimentTimeoutSeconds: Double = 120
    /// Path of the experiment helper; nil: `memlab` beside the memd executable.
    public var helperPath: String?
    /// How long shutdown waits for calls in flight before cancelling them.
    public var shutdownGraceSeconds: Double = 1.5
    /// The longest response line; a longer one is replaced by -32003 `responseBytes`.
    public var maxResponseBytes = 64 << 20
    /// Threads that run calls' tasks and the work that waits (/proc reads of other processes, the
    /// simulator), shared per uid (``FairPool``).
    public var waitingThreads = 8
    /// Of those, the most one uid holds at once: the others always find threads free.
    public var maxThreadsPerUID = 4
    /// memd's own counters for /metrics (requests, latency, connections, …); nil: not kept.
    public var health: HealthMetrics?
    /// The memory cgroup tree `cgroups` reads (nil: the host's own, found in mountinfo).
    public var cgroupRoot: String?
    /// Threads reading /proc/PID/smaps_rollup in parallel for `usage`.
    public var usageThreads = 2

    public init(socketPath: String) { self.socketPath = socketPath }
}
