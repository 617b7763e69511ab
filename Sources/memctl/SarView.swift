import ArgumentParser
import MemdProtocol
import ProcFS

/// `memctl sar -r|-B [interval [count]]`: sar's memory and paging reports.
struct SarCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sar",
        abstract: "Memory (-r) or paging (-B) statistics, like sar, sampled by memd."
    )

    @OptionGroup var global: GlobalOptions
    @Flag(name: .short, help: "Memory utilisation (sar -r), in kB like sar.") var r = false
    @Flag(name: .customShort("B"), help: "Paging statistics (sar -B).") var paging = false
    @Argument(help: "Seconds between samples.") var interval: Int?
    @Argument(help: "Number of samples.") var count: Int?

    func validate() throws {
        guard r != paging else { throw ValidationError("give exactly one of -r or -B") }
        if let interval, interval < 1 { throw ValidationError("interval must be at least 1 second") }
        if let count, count < 1 { throw ValidationError("count must be at least 1") }
    }

    func run() throws {
        let samples = count ?? (interval == nil ? 1 : Int.max)
        try global.session { client in
            print(SarView.banner() + "\n")
            print(SarView.header(r ? SarView.memoryColumns : SarView.pagingColumns))
            var memory: [MeminfoResult] = []
            var paging: [PagingRates] = []
            for sample in 0..<samples {
                if r {
                    if sample > 0 { sleep(UInt32(interval ?? 1)) }
                    let row = try client.call(MeminfoMethod.self, .init())
                    print(SarView.memoryRow(row))
                    memory.append(row)
                } else {
                    let result = try client.call(PageStatsMethod.self, .init(intervalMs: (interval ?? 1) * 1000))
                    guard case .system(let system) = result, let rates = system.interval?.rates else {
                        throw ExitCode(1)
                    }
                    print(SarView.pagingRow(rates))
                    paging.append(rates)
                }
                fflush(nil)
            }
            // sar closes a run of samples with their average.
            if interval != nil { print(r ? SarView.memoryAverage(memory) : SarView.pagingAverage(paging)) }
        }
    }
}

/// sar's layout (sysstat 12's C locale): the time in 11 columns, then " %9s" per figure (kB as
/// integers, the rest "%.2f"), and an `Average:` row closing an interval run.
enum SarView {
    static let memoryColumns = [
        "kbmemfree", "kbavail", "kbmemused", "%memused", "kbbuffers", "kbcached", "kbcommit", "%commit", "kbactive",
        "kbinact", "kbdirty",
    ]
    static let pagingColumns = [
        "pgpgin/s", "pgpgout/s", "fault/s", "majflt/s", "pgfree/s", "pgscank/s", "pgscand/s", "pgsteal/s", "%vmeff",
    ]
    /// sar -B's columns, in order.
    static func pagingFigures(_ r: PagingRates) -> [Double] {
        [
            r.pgpginPerSec, r.pgpgoutPerSec, r.faultPerSec, r.majfltPerSec, r.pgfreePerSec, r.pgscankPerSec,
            r.pgscandPerSec, r.pgstealPerSec, r.vmeffPercent,
        ]
    }

    /// sar's first line: `Linux RELEASE (NODE) \tMM/DD/YY \t_MACHINE_\t(N CPU)`.
    static func banner() -> String {
        var names = utsname()
        uname(&names)
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
        }
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let date = "\(two(parts.tm_mon + 1))/\(two(parts.tm_mday))/\(two(parts.tm_year % 100))"
        let cpus = sysconf(Int32(_SC_NPROCESSORS_CONF))
        return "\(field(names.sysname)) \(field(names.release)) (\(field(names.nodename))) \t\(date) "
            + "\t_\(field(names.machine))_\t(\(cpus) CPU)"
    }

    static func line(_ label: String, _ cells: [String]) -> String {
        Format.pad(label, 11, right: false) + cells.map { " " + Format.pad($0, 9) }.joined()
    }

    static func header(_ columns: [String]) -> String { line(Format.clock(), columns) }

    static func percent(_ value: Double) -> String { Format.cFormat("%.2f", value) }

    /// The sar -r figures in bytes: memFree, available, memUsed, buffers, cached, commit, active,
    /// inactive, dirty.
    static func memoryFigures(_ s: SarMemory) -> [Double] {
        [s.memFree, s.available, s.memUsed, s.buffers, s.cached, s.commit, s.active, s.inactive, s.dirty].map {
            Double($0)
        }
    }

    static func memoryCells(_ figures: [Double], total: Double, swapTotal: Double) -> [String] {
        func kb(_ index: Int) -> String { Format.cFormat("%.0f", figures[index] / 1024) }
        let used = figures[2]
        let commit = figures[5]
        return [
            kb(0), kb(1), kb(2), percent(total > 0 ? 100 * used / total : 0), kb(3), kb(4), kb(5),
            percent(total + swapTotal > 0 ? 100 * commit / (total + swapTotal) : 0), kb(6), kb(7), kb(8),
        ]
    }

    static func memoryRow(_ info: MeminfoResult) -> String {
        line(
            Format.clock(),
            memoryCells(
                memoryFigures(info.sar),
                total: Double(info.free.total),
                swapTotal: Double(info.free.swapTotal)
            )
        )
    }

    /// The mean of every figure; the percentages of the mean figures (as sar computes them).
    static func memoryAverage(_ rows: [MeminfoResult]) -> String {
        let count = Double(max(rows.count, 1))
        let sums = rows.map { memoryFigures($0.sar) }.reduce([Double](repeating: 0, count: 9)) { sum, figures in
            zip(sum, figures).map { $0 + $1 }
        }
        let last = rows.last
        return line(
            "Average:",
            memoryCells(
                sums.map { $0 / count },
                total: Double(last?.free.total ?? 0),
                swapTotal: Double(last?.free.swapTotal ?? 0)
            )
        )
    }

    static func pagingRow(_ rates: PagingRates) -> String {
        line(Format.clock(), pagingFigures(rates).map(percent))
    }

    /// Each rate over the whole run (equal intervals: the mean); %vmeff of the summed steals and scans.
    static func pagingAverage(_ rows: [PagingRates]) -> String {
        let count = Double(max(rows.count, 1))
        var mean = rows.map(pagingFigures).reduce([Double](repeating: 0, count: 9)) { sum, figures in
            zip(sum, figures).map { $0 + $1 }
        }.map { $0 / count }
        let scanned = mean[5] + mean[6]
        mean[8] = scanned > 0 ? 100 * mean[7] / scanned : 0
        return line("Average:", mean.map(percent))
    }
}

#if canImport(Glibc)
import Glibc
#endif
