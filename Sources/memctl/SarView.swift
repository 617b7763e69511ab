import ArgumentParser
import JSONRPC

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
            var rows: [JSON] = []
            for sample in 0..<samples {
                let row: JSON
                if r {
                    if sample > 0 { sleep(UInt32(interval ?? 1)) }
                    row = try client.call("meminfo")
                    print(SarView.memoryRow(row))
                } else {
                    row = try client.call("pageStats", ["intervalMs": .int((interval ?? 1) * 1000)])
                    print(SarView.pagingRow(row))
                }
                fflush(nil)
                rows.append(row)
            }
            // sar closes a run of samples with their average.
            if interval != nil { print(r ? SarView.memoryAverage(rows) : SarView.pagingAverage(rows)) }
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
    static let pagingKeys = [
        "pgpginPerSec", "pgpgoutPerSec", "faultPerSec", "majfltPerSec", "pgfreePerSec", "pgscankPerSec",
        "pgscandPerSec", "pgstealPerSec", "vmeffPercent",
    ]

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

    static func memoryCells(_ sar: JSON, total: Double, swapTotal: Double) -> [String] {
        func kb(_ key: String) -> String { Format.cFormat("%.0f", Format.double(sar[key]) / 1024) }
        let used = Format.double(sar["memUsed"])
        let commit = Format.double(sar["commit"])
        return [
            kb("memFree"), kb("available"), kb("memUsed"), percent(total > 0 ? 100 * used / total : 0),
            kb("buffers"), kb("cached"), kb("commit"),
            percent(total + swapTotal > 0 ? 100 * commit / (total + swapTotal) : 0), kb("active"), kb("inactive"),
            kb("dirty"),
        ]
    }

    static func memoryRow(_ info: JSON) -> String {
        line(
            Format.clock(),
            memoryCells(
                info["sar"] ?? .null,
                total: Format.double(info["total"]),
                swapTotal: Format.double(info["swapTotal"])
            )
        )
    }

    /// The mean of every figure; the percentages of the mean figures (as sar computes them).
    static func memoryAverage(_ rows: [JSON]) -> String {
        let keys = ["memFree", "available", "memUsed", "buffers", "cached", "commit", "active", "inactive", "dirty"]
        var mean: JSONObject = [:]
        for key in keys {
            mean[key] = .double(rows.reduce(0) { $0 + Format.double($1["sar"]?[key]) } / Double(max(rows.count, 1)))
        }
        let last = rows.last ?? .null
        return line(
            "Average:",
            memoryCells(
                .object(mean),
                total: Format.double(last["total"]),
                swapTotal: Format.double(last["swapTotal"])
            )
        )
    }

    static func pagingRow(_ result: JSON) -> String {
        let rates = result["rates"] ?? .null
        return line(Format.clock(), pagingKeys.map { percent(Format.double(rates[$0])) })
    }

    /// Each rate over the whole run (equal intervals: the mean); %vmeff of the summed steals and scans.
    static func pagingAverage(_ rows: [JSON]) -> String {
        let count = Double(max(rows.count, 1))
        var mean = pagingKeys.map { key in rows.reduce(0) { $0 + Format.double($1["rates"]?[key]) } / count }
        let scanned = mean[5] + mean[6]
        mean[8] = scanned > 0 ? 100 * mean[7] / scanned : 0
        return line("Average:", mean.map(percent))
    }
}

#if canImport(Glibc)
import Glibc
#endif
