import ArgumentParser
import JSONRPC

/// `memctl sar -r|-B [interval [count]]`: sar's memory and paging reports.
struct SarCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sar", abstract: "Memory (-r) or paging (-B) statistics, like sar, sampled by memd.")

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
            print(r ? SarView.memoryHeader : SarView.pagingHeader)
            for sample in 0..<samples {
                if r {
                    if sample > 0 { sleep(UInt32(interval ?? 1)) }
                    print(SarView.memoryRow(try client.call("meminfo")))
                } else {
                    let rates = try client.call("pageStats", ["intervalMs": .int((interval ?? 1) * 1000)])
                    print(SarView.pagingRow(rates))
                }
            }
        }
    }
}

enum SarView {
    static let memoryColumns = [
        "kbmemfree", "kbavail", "kbmemused", "%memused", "kbbuffers", "kbcached", "kbcommit", "%commit", "kbactive",
        "kbinact", "kbdirty",
    ]
    static var memoryHeader: String { Format.pad("", 8) + memoryColumns.map { Format.pad($0, 10) }.joined() }

    static func memoryRow(_ info: JSON) -> String {
        let sar = info["sar"] ?? .null
        func kb(_ key: String) -> String { "\(Format.int(sar[key]) / 1024)" }
        func pct(_ key: String) -> String { Format.fixed(Format.double(sar[key]), 2) }
        let cells = [
            kb("memFree"), kb("available"), kb("memUsed"), pct("memUsedPercent"), kb("buffers"), kb("cached"),
            kb("commit"), pct("commitPercent"), kb("active"), kb("inactive"), kb("dirty"),
        ]
        return Format.pad(Format.clock(), 8, right: false) + cells.map { Format.pad($0, 10) }.joined()
    }

    static let pagingColumns = [
        "pgpgin/s", "pgpgout/s", "fault/s", "majflt/s", "pgfree/s", "pgscank/s", "pgscand/s", "pgsteal/s", "%vmeff",
    ]
    static var pagingHeader: String { Format.pad("", 8) + pagingColumns.map { Format.pad($0, 10) }.joined() }

    static func pagingRow(_ result: JSON) -> String {
        let rates = result["rates"] ?? .null
        let keys = [
            "pgpginPerSec", "pgpgoutPerSec", "faultPerSec", "majfltPerSec", "pgfreePerSec", "pgscankPerSec",
            "pgscandPerSec", "pgstealPerSec", "vmeffPercent",
        ]
        return Format.pad(Format.clock(), 8, right: false)
            + keys.map { Format.pad(Format.fixed(Format.double(rates[$0]), 2), 10) }.joined()
    }
}

#if canImport(Glibc)
    import Glibc
#endif
