import ArgumentParser
import JSONRPC
import MemdProtocol
import ProcFS

#if canImport(Glibc)
import Glibc
#endif

/// `memctl wss PID`: the `workingSet` method as Brendan Gregg's wss.pl prints it, a row per
/// sample as each arrives.
struct WssCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wss",
        abstract: "The working set of a process, like wss.pl: what it referenced (or wrote) per interval.",
        discussion: """
            Each interval, the process's referenced bits are cleared (/proc/PID/clear_refs) and, after \
            the interval, smaps' Referenced: is summed (--written: soft-dirty bits, on kernels that track \
            them). Clearing the bits makes reclaim see the process's pages as not recently used for one \
            interval; the process's data is not changed. Ctrl-C ends it through workingSet.stop.
            """
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The process.") var pid: Int
    @Option(name: .long, help: "Each interval: 100ms, 1s, 2m; a bare number is seconds (default 1s).")
    var interval: String = "1s"
    @Option(name: .long, help: "How many intervals (default 1).") var count: Int = 1
    @Flag(name: .long, help: "Count the pages written (soft-dirty) instead of referenced.") var written = false
    @Flag(name: .long, help: "After each row, the mappings that touched pages.") var mappings = false

    func run() throws {
        var raw: JSONObject = [
            "pid": .int(pid), "intervalMs": .int(try WatchCommand.milliseconds(interval, option: "--interval")),
            "count": .int(count),
        ]
        if written { raw["kind"] = "written" }
        if mappings { raw["mappings"] = true }
        let params = try WorkingSetMethod.params(raw)
        print(WssView.header(params.kind))
        fflush(nil)
        try global.session { client in
            let stopper = InterruptStopper.start(client, stopMethod: WorkingSetStopMethod.name)
            _ = try client.call(WorkingSetMethod.self, params) { method, notification in
                guard method == WorkingSetMethod.sampleNotification else { return }
                if let id = notification["requestId"] { stopper.watching(id) }
                guard let sample = try? WorkingSetMethod.Sample(json: notification) else { return }
                for line in WssView.rows(sample) { print(line) }
                fflush(nil)
            }
        }
    }
}

/// wss.pl's columns: the interval measured in seconds, then RSS, PSS and Ref (or Wr) in MB.
enum WssView {
    static func header(_ kind: WorkingSetKind) -> String {
        Format.pad("Est(s)", 7, right: false) + " " + Format.pad("RSS(MB)", 10) + " " + Format.pad("PSS(MB)", 10) + " "
            + Format.pad(kind == .written ? "Wr(MB)" : "Ref(MB)", 10)
    }

    static func rows(_ sample: WorkingSetMethod.Sample) -> [String] {
        let mb = { (bytes: Int) in Format.cFormat("%10.2f", Double(bytes) / 1_048_576) }
        let figures = sample.figures
        var lines = [
            Format.cFormat("%-7.3f", Double(sample.intervalMs) / 1000) + " " + mb(figures.rss) + " " + mb(figures.pss)
                + " " + mb(figures.touched)
        ]
        for mapping in figures.mappings ?? [] where mapping.touched > 0 {
            lines.append(
                "  " + hexString(mapping.start) + "-" + hexString(mapping.end) + " " + mb(mapping.rss) + " "
                    + mb(mapping.touched) + "  " + (mapping.path ?? "[\(mapping.kind.rawValue)]")
            )
        }
        return lines
    }

}

/// `memctl page-types PID`: the `pageFlags` method as the kernel's `page-types -p PID` prints it.
struct PageTypesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "page-types",
        abstract: "What each page of a process is to the kernel, like page-types -p PID (memd must run as root).",
        discussion: """
            One row per set of flags (/proc/kpageflags, page-types' default masking), largest first: \
            the flags word, pages, MB, the symbolic and long-symbolic flags; then the total.
            """
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The process.") var pid: Int
    @Option(name: .long, help: "Only pages at or above this address (0x…).") var start: String?
    @Option(name: .long, help: "Only pages below this address (0x…).") var end: String?

    func run() throws {
        var raw: JSONObject = ["pid": .int(pid)]
        if let start { raw["start"] = .string(start) }
        if let end { raw["end"] = .string(end) }
        let params = try PageFlagsMethod.params(raw)
        let result = try global.session { client in try client.call(PageFlagsMethod.self, params) }
        for line in PageTypesView.table(result) { print(line) }
    }
}

/// page-types' summary table (`show_summary`), its columns as it prints them.
enum PageTypesView {
    static func table(_ result: PageFlagsMethod.Result) -> [String] {
        let megabytes = { (pages: Int) in (pages * pageSize) >> 20 }
        var lines = ["             flags\tpage-count       MB  symbolic-flags\t\t\tlong-symbolic-flags"]
        var total = 0
        for set in result.scan.total.sortedSets {
            total += set.pages
            let word = String(set.flags.rawValue, radix: 16)
            lines.append(
                "0x" + String(repeating: "0", count: 16 - word.count) + word + "\t" + Format.pad("\(set.pages)", 10)
                    + " " + Format.pad("\(megabytes(set.pages))", 8) + "  " + PageFlagName.symbolic(set.flags.rawValue)
                    + "\t" + set.flags.names.joined(separator: ",")
            )
        }
        lines.append("             total\t" + Format.pad("\(total)", 10) + " " + Format.pad("\(megabytes(total))", 8))
        return lines
    }
}
