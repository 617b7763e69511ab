import ProcFS
import Prometheus

/// memd's memory cgroup families, one series per cgroup (label `cgroup`, its
/// path in the hierarchy, `/` for the root), from the same reader as the
/// `cgroups` method (ProcFS `CgroupReader`: v2 `memory.*` files, or v1's
/// `memory.usage_in_bytes`, `memory.limit_in_bytes`, …).
///
/// Series stay bounded: cgroups at most `depth` levels below the root, and at
/// most `limit` of them (in the walk's order, parents first).
enum CgroupMetrics {
    static let families: [(name: String, help: String)] = [
        (
            "memd_cgroup_memory_current_bytes",
            "Memory charged to the cgroup (v2 memory.current, v1 memory.usage_in_bytes)."
        ),
        (
            "memd_cgroup_memory_max_bytes",
            "The cgroup's memory limit (v2 memory.max, v1 memory.limit_in_bytes); absent when unlimited."
        ),
        (
            "memd_cgroup_memory_peak_bytes",
            "Highest memory charged to the cgroup (v2 memory.peak, v1 memory.max_usage_in_bytes)."
        ),
        (
            "memd_cgroup_memory_working_set_bytes",
            "current minus inactive file pages, as cAdvisor and kubelet count it."
        ),
        (
            "memd_cgroup_oom_kills_total",
            "Processes the OOM killer killed in the cgroup (memory.events oom_kill, v1 memory.oom_control)."
        ),
        (
            "memd_cgroup_pressure_waiting_seconds_total",
            "Seconds some task of the cgroup waited for memory (v2 memory.pressure some total)."
        ),
    ]

    /// Reads the tree and registers every figure it has; returns how many cgroups were read.
    @discardableResult
    static func register(
        _ hierarchy: CgroupHierarchy,
        depth: Int,
        limit: Int,
        into registry: PrometheusCollectorRegistry
    ) -> Int {
        var reader = CgroupReader(hierarchy)
        var paths: [CgroupPath] = []
        reader.walk(CgroupPath(components: []), depth: depth) { path in
            if paths.count < limit { paths.append(path) }
        }
        for path in paths {
            register(reader.read(path, stat: false), into: registry)
        }
        return paths.count
    }

    static func register(_ cgroup: CgroupMemory, into registry: PrometheusCollectorRegistry) {
        let labels = [("cgroup", cgroup.path.description)]
        func gauge(_ index: Int, _ value: Int?) {
            guard let value else { return }
            registry.makeGauge(descriptor: descriptor(index), labels: labels).set(to: Double(value))
        }
        gauge(0, cgroup.current)
        gauge(1, cgroup.max)
        gauge(2, cgroup.peak)
        gauge(3, cgroup.workingSet)
        if let kills = cgroup.events?.oomKill {
            registry.makeCounter(descriptor: descriptor(4), labels: labels).increment(by: Int64(kills))
        }
        if let pressure = cgroup.pressure {
            registry.makeCounter(descriptor: descriptor(5), labels: labels)
                .increment(by: Double(pressure.some.totalMicroseconds) / 1e6)
        }
    }

    private static func descriptor(_ index: Int) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: families[index].name, unitName: "", helpText: families[index].help)
    }
}
