import ProcFS

extension FuzzTarget {
    /// /proc/vmstat (mm/vmstat.c), its paging counters, and sar -B's rates between two reads.
    static let vmstat = FuzzTarget("vmstat") { bytes in
        guard let vmstat = try? Vmstat.parse(bytes.uint8) else { return }
        let counters = PagingCounters(vmstat)
        _ = PagingRates(from: PagingCounters(Vmstat(entries: [])), to: counters, seconds: 1)
        _ = PagingRates(from: counters, to: PagingCounters(Vmstat(entries: [])), seconds: 0.001)
    }
}
