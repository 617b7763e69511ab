import ProcFS
import Prometheus

/// One scrape: reads /proc afresh (no figure is cached between scrapes), adds
/// memd's health, and renders the lot in the asked format.
public struct Scraper: Sendable {
    public let health: HealthMetrics?
    public let procRoot: String
    /// The memory cgroup tree to report (nil: no cgroup series).
    public let cgroups: CgroupHierarchy?
    /// Levels below the root (`--metrics-cgroup-depth`).
    public let cgroupDepth: Int
    /// Most cgroups in one scrape, whatever the depth.
    public let maxCgroups: Int
    /// Per-user sums (`--metrics-usage`; nil: off): reads every process's smaps_rollup.
    public let perUserUsage: (@Sendable () -> [UserMemory])?
    private let host = HostGauges()

    public init(
        health: HealthMetrics?,
        procRoot: String = "/proc",
        cgroups: CgroupHierarchy? = nil,
        cgroupDepth: Int = 3,
        maxCgroups: Int = 2000,
        perUserUsage: (@Sendable () -> [UserMemory])? = nil
    ) {
        self.perUserUsage = perUserUsage
        self.health = health
        self.procRoot = procRoot
        self.cgroups = cgroups
        self.cgroupDepth = cgroupDepth
        self.maxCgroups = maxCgroups
    }

    /// The body of a `/metrics` answer. A figure the kernel does not have (no
    /// PSI: /proc/pressure absent, or EOPNOTSUPP with `psi=0`) is left out; the
    /// rest is served.
    public func render(_ format: ExpositionFormat) -> [UInt8] {
        var reader = ProcReader(root: procRoot)
        var text: [UInt8] = []
        text.reserveCapacity(64 * 1024)
        let untyped = host.emit(meminfo: try? reader.meminfo(), vmstat: try? reader.vmstat(), into: &text)
        // The labelled families in a registry per scrape: a cgroup or user gone from /proc is gone here too.
        let registry = PrometheusCollectorRegistry()
        if let pressure = try? reader.memoryPressure() { HostMetrics.register(pressure, into: registry) }
        if let perUserUsage { UserMetrics.register(perUserUsage(), into: registry) }
        if let cgroups { CgroupMetrics.register(cgroups, depth: cgroupDepth, limit: maxCgroups, into: registry) }
        registry.emit(into: &text)
        health?.emit(into: &text)
        return format.finish(text, untyped: untyped)
    }
}
