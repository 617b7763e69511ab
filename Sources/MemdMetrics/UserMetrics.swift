import Prometheus

#if canImport(Glibc)
import Glibc
#endif

/// One user's processes' memory, summed: what `usage` with `by: "user"` counts (smem -u).
public struct UserMemory: Sendable {
    public var user: String
    public var pss = 0, uss = 0, rss = 0, swap = 0

    public init(user: String) { self.user = user }
}

/// `--metrics-usage`: memory per user, summed over that user's processes, as
/// the `usage` method's `by: "user"` counts it (smem -u); the sums come from
/// `usage`'s own reader (MemdServer), handed to the scraper by memd's wiring.
///
/// Off by default: it reads every process's smaps_rollup, which takes each
/// process's mmap lock (fs/proc/task_mmu.c) — see scripts/bench-metrics for the
/// cost. Only sums per user are exposed, never a series per process.
enum UserMetrics {
    static let families: [(name: String, help: String)] = [
        ("memd_user_memory_pss_bytes", "Proportional set size of the user's processes, summed (smem -u PSS)."),
        (
            "memd_user_memory_uss_bytes",
            "Unique set size (Private_Clean + Private_Dirty) of the user's processes, summed."
        ),
        (
            "memd_user_memory_rss_bytes",
            "Resident set size of the user's processes, summed (counts shared pages again)."
        ),
        ("memd_user_memory_swap_bytes", "Swap used by the user's processes, summed."),
    ]

    static func register(_ sums: [UserMemory], into registry: PrometheusCollectorRegistry) {
        for sum in sums {
            let labels = [("user", sum.user)]
            for (index, value) in [sum.pss, sum.uss, sum.rss, sum.swap].enumerated() {
                registry.makeGauge(
                    descriptor: MetricNameDescriptor(
                        metricName: families[index].name,
                        unitName: "",
                        helpText: families[index].help
                    ),
                    labels: labels
                ).set(to: Double(value))
            }
        }
    }
}
