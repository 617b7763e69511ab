import ArgumentParser
import JSONRPC
import MemdProtocol

#if canImport(Glibc)
import Glibc
#endif

/// `memctl watch`: the `watch` method as a live view — a row per sample like `vmstat 1`, with a
/// sparkline of the followed tree's rss — or as JSON lines for harnesses.
struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Watch memory over time: the system, and processes with their children (like vmstat 1 / pidstat -r).",
        discussion: """
            Ctrl-C ends the watch through watch.stop and prints the summary. With --json, every sample \
            (an object with "seq") and then the summary (an object with "endedBy") is printed as one line.
            """
    )

    @OptionGroup var global: GlobalOptions
    @Option(name: .customLong("pid"), help: "A process to follow (repeat for more).") var pids: [Int] = []
    @Flag(name: .long, help: "Also follow every descendant, including those born while watching.") var children = false
    @Flag(name: .long, help: "Read pss, uss and swap of followed processes (smaps_rollup; costly on huge ones).")
    var pss = false
    @Option(name: .long, help: "Between samples: 500ms, 1s, 2m; a bare number is seconds (default 1s).")
    var interval: String = "1s"
    @Option(name: .long, help: "Stop after this many samples.") var count: Int?
    @Option(name: .long, help: "Stop after this long: 30s, 5m, 1500ms.") var duration: String?
    @Flag(name: .long, help: "Stop once every followed process has exited.") var untilExit = false
    @Flag(name: .long, help: "One JSON line per sample, then the summary.") var json = false

    func run() throws {
        var params: JSONObject = ["intervalMs": .int(try WatchCommand.milliseconds(interval, option: "--interval"))]
        if !pids.isEmpty { params["pids"] = .array(pids.map { .int($0) }) }
        if children { params["children"] = true }
        if pss { params["pss"] = true }
        if let count { params["count"] = .int(count) }
        if let duration { params["durationMs"] = .int(try WatchCommand.milliseconds(duration, option: "--duration")) }
        if untilExit { params["untilExit"] = true }
        var view = WatchView()
        let summary = try global.session { client in
            try WatchStream.run(client, params: try WatchMethod.params(params), stopOnInterrupt: true) { sample in
                if json {
                    print(JSONWriter.string(sample))
                } else {
                    for line in view.add(sample) { print(line) }
                }
                fflush(nil)  // every stream: a harness reads each line as it comes
            }
        }
        print(json ? JSONWriter.string(summary.json) : WatchView.renderSummary(summary))
    }

    /// `500ms`, `1s`, `1.5s`, `2m`, `1h`; a bare number is seconds (as sar and vmstat take it).
    static func milliseconds(_ text: String, option: String) throws -> Int {
        let units: [(suffix: String, scale: Double)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        var scale = 1000.0
        var number = Substring(text)
        for unit in units where text.hasSuffix(unit.suffix) {
            scale = unit.scale
            number = text.dropLast(unit.suffix.count)
            break
        }
        guard let value = Double(number), value > 0, value * scale < Double(Int32.max) * 1000 else {
            throw ValidationError("\(option) must be a duration like 500ms, 1s or 2m, not '\(text)'")
        }
        return Int((value * scale).rounded())
    }
}

/// The rows of the live view, and the summary as text.
struct WatchView {
    /// The tree's rss per sample, for the sparkline.
    private var treeRss: [Int] = []
    private var rows = 0

    static let header =
        Format.pad("time", 8, right: false) + Format.pad("used", 9) + Format.pad("avail", 9)
        + Format.pad("psi10", 7) + Format.pad("procs", 6) + Format.pad("tree rss", 10) + "  trend / processes"

    /// The lines a sample adds: the header every 20 rows, events, then the row.
    mutating func add(_ sample: JSON) -> [String] {
        var lines: [String] = []
        if rows % 20 == 0 { lines.append(Self.header) }
        rows += 1
        for event in sample["events"]?.arrayValue ?? [] { lines.append("  " + Self.describe(event)) }
        let processes = sample["processes"]?.arrayValue ?? []
        let tree = processes.reduce(0) { $0 + Format.int($1["rss"]) }
        if !processes.isEmpty { treeRss.append(tree) }
        var line = Format.pad(Self.clock(sample["time"]), 8, right: false)
        if let meminfo = sample["meminfo"] {
            line += Format.pad(Format.human(Format.int(meminfo["used"])), 9)
            line += Format.pad(Format.human(Format.int(meminfo["available"])), 9)
        } else {
            line += Format.pad("-", 9) + Format.pad("-", 9)
        }
        if let some = sample["pressure"]?["some"]?["avg10"] {
            line += Format.pad(Format.fixed(Format.double(some), 2), 7)
        } else {
            line += Format.pad("-", 7)
        }
        line += Format.pad("\(processes.count)", 6)
        line += Format.pad(processes.isEmpty ? "-" : Format.human(tree), 10)
        if !processes.isEmpty {
            line += "  " + Format.pad(Sparkline.render(treeRss, width: 16), 16, right: false)
            let largest = processes.sorted { Format.int($0["rss"]) > Format.int($1["rss"]) }.prefix(3)
            line += largest.map {
                " \(Format.int($0["pid"]))/\($0["command"]?.stringValue ?? "")=\(Format.human(Format.int($0["rss"])))"
            }
            .joined()
        }
        lines.append(line)
        return lines
    }

    static func describe(_ event: JSON) -> String {
        switch event["kind"]?.stringValue {
        case "spawn": return "+ \(Format.int(event["pid"])) (child of \(Format.int(event["ppid"])))"
        case "exit": return "- \(Format.int(event["pid"])) exited"
        case "oomKill": return "! OOM killer ran (\(Format.int(event["count"])) kill(s) on this host)"
        default: return JSONWriter.string(event)
        }
    }

    /// Local time of day of a Unix-milliseconds `time`.
    static func clock(_ time: JSON?) -> String {
        var seconds = time_t(Format.int(time) / 1000)
        var parts = tm()
        localtime_r(&seconds, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
    }

    static func renderSummary(_ summary: WatchMethod.Result) -> String {
        let peaks = summary.peaks
        var lines = [
            "\(summary.samples) samples in \(Format.fixed(Double(summary.durationMs) / 1000, 1))s, "
                + "ended by \(summary.endedBy.rawValue)"
        ]
        if let used = peaks.systemUsed {
            lines.append(
                "system: used at most \(Format.human(used)), available at least "
                    + Format.human(peaks.availableMin ?? 0)
            )
        }
        if let some = peaks.pressureSomeAvg10Max {
            lines.append("memory pressure: some avg10 at most \(Format.fixed(some, 2))%")
        }
        lines.append("OOM kills on this host: \(summary.oomKills)")
        if let tree = peaks.treeRssMax {
            var text = "tree: rss at most \(Format.human(tree))"
            if let pss = peaks.treePssMax ?? nil { text += ", pss at most \(Format.human(pss))" }
            lines.append(text)
        }
        if !peaks.processes.isEmpty {
            lines.append(processTable(peaks.processes))
        }
        return lines.joined(separator: "\n")
    }

    /// One row per process: its peaks, faults and when it exited.
    static func processTable(_ processes: [WatchMethod.ProcessPeaks]) -> String {
        var lines = [
            Format.pad("PID", 7) + Format.pad("PPID", 7) + Format.pad("RSS MAX", 9) + Format.pad("AT", 8)
                + Format.pad("PSS MAX", 9) + Format.pad("MINFLT", 9) + Format.pad("MAJFLT", 7) + Format.pad("EXITED", 8)
                + "  COMMAND"
        ]
        func seconds(_ ms: Int?) -> String {
            guard let ms else { return "-" }
            return Format.fixed(Double(ms) / 1000, 1) + "s"
        }
        for p in processes {
            lines.append(
                Format.pad("\(p.pid)", 7) + Format.pad("\(p.ppid)", 7) + Format.pad(Format.human(p.rssMax), 9)
                    + Format.pad(seconds(p.rssMaxAtMs), 8) + Format.pad((p.pss?.pssMax).map(Format.human) ?? "-", 9)
                    + Format.pad("\(p.minflt)", 9) + Format.pad("\(p.majflt)", 7) + Format.pad(seconds(p.exitedAtMs), 8)
                    + "  " + p.command
            )
        }
        return lines.joined(separator: "\n")
    }
}
