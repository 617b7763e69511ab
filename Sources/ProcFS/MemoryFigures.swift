/// The figures `free -b` prints (procps 4, library/meminfo.c), from one /proc/meminfo.
public struct FreeFigures: Sendable, Equatable {
    public var total, used, free, shared, buffers, cache, buffCache, available: Int
    public var swapTotal, swapUsed, swapFree: Int

    public init(_ m: Meminfo) {
        total = m["MemTotal"] ?? 0
        free = m["MemFree"] ?? 0
        shared = m["Shmem"] ?? 0
        buffers = m["Buffers"] ?? 0
        cache = (m["Cached"] ?? 0) + (m["SReclaimable"] ?? 0)
        buffCache = buffers + cache
        // Kernels before 3.14 have no MemAvailable; procps then falls back to MemFree,
        // and does so too when the value is impossible.
        if let memAvailable = m["MemAvailable"], memAvailable <= total {
            available = memAvailable
        } else {
            available = free
        }
        used = total - available >= 0 ? total - available : total - free
        swapTotal = m["SwapTotal"] ?? 0
        swapFree = m["SwapFree"] ?? 0
        swapUsed = swapTotal - swapFree
    }
}

/// The columns of `sar -r` and `sar -r ALL`, in bytes, as sysstat 12.7.9 and later
/// compute them (rd_stats.c / pr_stats.c).
///
/// Older sysstat (12.6, Debian bookworm's) computed memUsed as
/// MemTotal − MemFree − Buffers − Cached − Slab; every other column is the same.
public struct SarMemory: Sendable, Equatable {
    public var memFree, available, memUsed: Int
    public var memUsedPercent: Double
    public var buffers, cached, commit: Int
    public var commitPercent: Double
    public var active, inactive, dirty: Int
    public var shmem, anonPages, slab, kernelStack, pageTables, vmallocUsed: Int

    public init(_ m: Meminfo) {
        let total = m["MemTotal"] ?? 0
        memFree = m["MemFree"] ?? 0
        available = m["MemAvailable"] ?? 0
        memUsed = total - available
        memUsedPercent = total > 0 ? Double(memUsed) / Double(total) * 100 : 0
        buffers = m["Buffers"] ?? 0
        cached = m["Cached"] ?? 0
        commit = m["Committed_AS"] ?? 0
        let commitBase = total + (m["SwapTotal"] ?? 0)
        commitPercent = commitBase > 0 ? Double(commit) / Double(commitBase) * 100 : 0
        active = m["Active"] ?? 0
        inactive = m["Inactive"] ?? 0
        dirty = m["Dirty"] ?? 0
        shmem = m["Shmem"] ?? 0
        anonPages = m["AnonPages"] ?? 0
        slab = m["Slab"] ?? 0
        kernelStack = m["KernelStack"] ?? 0
        pageTables = m["PageTables"] ?? 0
        vmallocUsed = m["VmallocUsed"] ?? 0
    }
}
