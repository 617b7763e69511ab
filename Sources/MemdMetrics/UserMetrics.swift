import ProcFS
import Prometheus

#if canImport(Glibc)
    import Glibc
#endif

/// `--metrics-usage`: memory per user, summed over that user's processes, as
/// the `usage` method's `--by user` counts it (smem -u): every process with
/// memory of its own (kernel threads and zombies have none), grouped by
/// effective uid, from /proc/PID/status and /proc/PID/smaps_rollup.
///
/// Off by default: it reads every process's smaps_rollup, which takes each
/// process's mmap lock (fs/proc/task_mmu.c) — see scripts/bench-metrics for the
/// cost. Only sums per user are exposed, never a series per process.
enum UserMetrics {
    static let families: [(name: String, help: String)] = [
        ("memd_user_memory_pss_bytes", "Proportional set size of the user's processes, summed (smem -u PSS)."),
        ("memd_user_memory_uss_bytes",
         "Unique set size (Private_Clean + Private_Dirty) of the user's processes, summed."),
        ("memd_user_memory_rss_bytes",
         "Resident set size of the user's processes, summed (counts shared pages again)."),
        ("memd_user_memory_swap_bytes", "Swap used by the user's processes, summed."),
    ]

    struct Sums {
        var pss = 0, uss = 0, rss = 0, swap = 0
    }

    /// Reads every process under `procRoot`; a process that exits or refuses
    /// while being read is left out.
    static func collect(procRoot: String) -> [UInt32: Sums] {
        var sums: [UInt32: Sums] = [:]
        var reader = ProcReader(root: procRoot, capacity: 4096)
        for pid in processIDs(procRoot) {
            guard let identity = try? reader.identity(pid: pid), identity.hasMemory, identity.tgid == pid,
                let memory = try? reader.processMemory(pid: pid)
            else { continue }
            sums[identity.effectiveUID, default: Sums()].pss += memory.pss
            sums[identity.effectiveUID, default: Sums()].uss += memory.uss
            sums[identity.effectiveUID, default: Sums()].rss += memory.rss
            sums[identity.effectiveUID, default: Sums()].swap += memory.swap
        }
        return sums
    }

    static func register(_ sums: [UInt32: Sums], into registry: PrometheusCollectorRegistry) {
        for (uid, sum) in sums {
            let labels = [("user", userName(uid))]
            for (index, value) in [sum.pss, sum.uss, sum.rss, sum.swap].enumerated() {
                registry.makeGauge(
                    descriptor: MetricNameDescriptor(
                        metricName: families[index].name, unitName: "", helpText: families[index].help),
                    labels: labels
                ).set(to: Double(value))
            }
        }
    }

    /// The numeric entries of /proc: one per process (threads are not listed).
    static func processIDs(_ procRoot: String) -> [Int32] {
        guard let directory = opendir(procRoot) else { return [] }
        defer { closedir(directory) }
        var pids: [Int32] = []
        while let entry = readdir(directory) {
            let pid = withUnsafeBytes(of: entry.pointee.d_name) { raw -> Int32? in
                let name = raw.prefix { $0 != 0 }
                guard !name.isEmpty, name.count <= 10, name.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
                return Int32(String(decoding: name, as: UTF8.self))
            }
            if let pid { pids.append(pid) }
        }
        return pids
    }

    /// The user's name from the password database (getpwuid_r), or the uid as text.
    static func userName(_ uid: UInt32) -> String {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil, let name = entry.pw_name
        else { return String(uid) }
        return String(cString: name)
    }
}
