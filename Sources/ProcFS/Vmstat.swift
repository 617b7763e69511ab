/// /proc/vmstat: every `name value` counter, in the kernel's order.
public struct Vmstat: Sendable, Equatable {
    public var entries: [(key: String, value: Int)]

    public init(entries: [(key: String, value: Int)]) { self.entries = entries }

    public subscript(key: String) -> Int? {
        for entry in entries where entry.key == key { return entry.value }
        return nil
    }

    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(ProcError) -> Vmstat {
        var entries: [(key: String, value: Int)] = []
        entries.reserveCapacity(192)
        var scanner = ByteScanner(bytes)
        while !scanner.isAtEnd {
            var line = ByteScanner(UnsafeBufferPointer(rebasing: scanner.line()))
            let key = line.word()
            guard !key.isEmpty else { continue }
            guard let value = line.decimal() else {
                throw .malformed(path: "/proc/vmstat", reason: "no number for \(String(key))")
            }
            entries.append((key: String(key), value: value))
        }
        return Vmstat(entries: entries)
    }

    public static func == (lhs: Vmstat, rhs: Vmstat) -> Bool {
        lhs.entries.count == rhs.entries.count
            && zip(lhs.entries, rhs.entries).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}

/// The paging counters `sar -B` reads from /proc/vmstat (sysstat rd_stats.c).
public struct PagingCounters: Sendable, Equatable {
    public var pgpgin, pgpgout, pgfault, pgmajfault, pgfree, pgscanKswapd, pgscanDirect, pgsteal: Int

    public init(_ v: Vmstat) {
        pgpgin = v["pgpgin"] ?? 0
        pgpgout = v["pgpgout"] ?? 0
        pgfault = v["pgfault"] ?? 0
        pgmajfault = v["pgmajfault"] ?? 0
        // pgfree has per-zone predecessors on old kernels only; modern ones give the total.
        pgfree = v["pgfree"] ?? 0
        pgscanKswapd = v["pgscan_kswapd"] ?? 0
        pgscanDirect = v["pgscan_direct"] ?? 0
        // Kernels since 5.8 split steal by anon/file; the per-reclaimer lines
        // (kswapd, direct, khugepaged, proactive) count the same pages again, so
        // the two families are never added together.
        // Counters are unsigned longs that wrap (mm/vmstat.c): summed and subtracted modulo 2^64,
        // as sar does, never trapping on a large or wrapped value.
        if let anon = v["pgsteal_anon"], let file = v["pgsteal_file"] {
            pgsteal = anon &+ file
        } else {
            pgsteal = ["pgsteal_kswapd", "pgsteal_direct", "pgsteal_khugepaged", "pgsteal_proactive"]
                .reduce(0) { $0 &+ (v[$1] ?? 0) }
        }
    }
}

/// `sar -B` rates between two samples, each Δcounter / Δseconds.
public struct PagingRates: Sendable, Equatable {
    public var pgpginPerSec, pgpgoutPerSec, faultPerSec, majfltPerSec, pgfreePerSec: Double
    public var pgscankPerSec, pgscandPerSec, pgstealPerSec, vmeffPercent: Double

    public init(from a: PagingCounters, to b: PagingCounters, seconds: Double) {
        func rate(_ delta: Int) -> Double { seconds > 0 ? Double(delta) / seconds : 0 }
        pgpginPerSec = rate(b.pgpgin &- a.pgpgin)
        pgpgoutPerSec = rate(b.pgpgout &- a.pgpgout)
        faultPerSec = rate(b.pgfault &- a.pgfault)
        majfltPerSec = rate(b.pgmajfault &- a.pgmajfault)
        pgfreePerSec = rate(b.pgfree &- a.pgfree)
        pgscankPerSec = rate(b.pgscanKswapd &- a.pgscanKswapd)
        pgscandPerSec = rate(b.pgscanDirect &- a.pgscanDirect)
        pgstealPerSec = rate(b.pgsteal &- a.pgsteal)
        let scanned = (b.pgscanKswapd &- a.pgscanKswapd) &+ (b.pgscanDirect &- a.pgscanDirect)
        vmeffPercent = scanned > 0 ? Double(b.pgsteal &- a.pgsteal) / Double(scanned) * 100 : 0
    }
}
