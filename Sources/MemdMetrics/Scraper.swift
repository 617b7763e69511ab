import ProcFS
import Prometheus

/// One scrape: reads /proc afresh (nothing cached between scrapes) into a new
/// registry, adds memd's health, and renders the lot in the asked format.
public struct Scraper: Sendable {
    public let health: HealthMetrics?
    public let procRoot: String
    /// The memory cgroup tree to report (nil: no cgroup series).
    public let cgroups: CgroupHierarchy?
    /// Levels below the root (`--metrics-cgroup-depth`).
    public let cgroupDepth: Int
    /// Most cgroups in one scrape, whatever the depth.
    public let maxCgroups: Int
    /// Per-user sums (`--metrics-usage`): reads every process's smaps_rollup.
    public let perUserUsage: Bool

    public init(
        health: HealthMetrics?, procRoot: String = "/proc", cgroups: CgroupHierarchy? = nil, cgroupDepth: Int = 3,
        maxCgroups: Int = 2000, perUserUsage: Bool = false
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
        // A registry per scrape: a key or cgroup that vanished from /proc vanishes here too.
        let registry = PrometheusCollectorRegistry()
        var reader = ProcReader(root: procRoot)
        var untyped = Set<String>()
        if let meminfo = try? reader.meminfo() { HostMetrics.register(meminfo, into: registry) }
        if let vmstat = try? reader.vmstat() { untyped = HostMetrics.register(vmstat, into: registry) }
        if let pressure = try? reader.memoryPressure() { HostMetrics.register(pressure, into: registry) }
        if perUserUsage { UserMetrics.register(UserMetrics.collect(procRoot: procRoot), into: registry) }
        if let cgroups { CgroupMetrics.register(cgroups, depth: cgroupDepth, limit: maxCgroups, into: registry) }
        var text: [UInt8] = []
        text.reserveCapacity(48 * 1024)
        registry.emit(into: &text)
        health?.emit(into: &text)
        return format.finish(text, untyped: untyped)
    }
}
