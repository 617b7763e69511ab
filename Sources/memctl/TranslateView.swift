import ArgumentParser
import JSONRPC
import MemdProtocol

/// `memctl translate --pid N [--machine M] ADDR...`: virtual → physical, as a person would draw it.
struct TranslateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "translate",
        abstract: "Translate virtual addresses of a real process (pagemap) or a simulated one (--machine)."
    )

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "The process (real, or simulated with --machine).") var pid: Int
    @Option(name: .long, help: "A simulated machine (sim.create).") var machine: String?
    @Option(name: .long, help: "read (default), write or exec.") var access: String?
    @Option(name: .long, help: "user (default) or kernel.") var mode: String?
    @Flag(name: .long, help: "Show the page walk level by level.") var trace = false
    @Flag(name: .long, help: "Simulated only: change nothing (no TLB fill, no fault handling).") var dryRun = false
    @Flag(name: .long, help: "Print the result as JSON instead of the view.") var json = false
    @Argument(help: "Addresses: 0x hex or decimal.") var addresses: [String]

    func run() throws {
        var list: [JSON] = []
        for a in addresses {
            if a.hasPrefix("0x") || a.hasPrefix("0X") {
                list.append(.string(a))
            } else if let n = Int(a), n >= 0 {
                list.append(.int(n))
            } else {
                throw ValidationError("not an address: \(a) (use 0x… hex or a decimal number)")
            }
        }
        var params: JSONObject = ["pid": .int(pid), "addresses": .array(list)]
        if let machine { params["machine"] = .string(machine) }
        if let access { params["access"] = .string(access) }
        if let mode { params["mode"] = .string(mode) }
        if trace { params["trace"] = true }
        if dryRun { params["dryRun"] = true }
        let result = try global.session { client in
            try client.call(SimulateTranslationMethod.self, try SimulateTranslationMethod.params(params))
        }
        if json { printJSON(result.json) } else { print(TranslateView.render(result)) }
    }
}

enum TranslateView {
    static func render(_ result: SimulateTranslationMethod.Result) -> String {
        var lines: [String] = []
        let who =
            result.source == .sim
            ? "simulated pid \(result.pid) on \(result.machine ?? "?")" : "pid \(result.pid)"
        lines.append("translation for \(who)")
        for t in result.translations ?? [] {
            lines.append("")
            lines += render(translation: t)
        }
        lines.append("")
        let summary = result.summary
        let outcomes = summary.outcomes.filter { $0.value > 0 }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        var line = "summary: \(summary.count) addresses: \(outcomes)"
        if result.source == .sim { line += "; TLB \(summary.tlbHits) hits, \(summary.tlbMisses) misses" }
        lines.append(line)
        return lines.joined(separator: "\n")
    }

    static func render(translation t: JSON) -> [String] {
        var lines: [String] = []
        let address = t["address"]?.stringValue ?? "?"
        let i = t["indices"]
        lines.append("\(address)  vpn \(hex(Format.int(t["vpn"])))")
        lines.append(
            "  pml4 \(Format.int(i?["pml4"])) │ pdpt \(Format.int(i?["pdpt"])) │ pd \(Format.int(i?["pd"])) │ pt \(Format.int(i?["pt"])) │ offset \(hex(Format.int(i?["offset"])))"
        )
        if let m = t["mapping"], m != .null {
            let path = m["path"]?.stringValue ?? "[anon]"
            lines.append(
                "  in \(m["start"]?.stringValue ?? "")-\(m["end"]?.stringValue ?? "") \(m["perms"]?.stringValue ?? "") \(path)"
            )
        } else {
            lines.append("  in no mapping")
        }
        for step in t["walk"]?.arrayValue ?? [] {
            let level = step["level"]?.stringValue ?? "?"
            let flags = step["flags"]?.arrayValue?.compactMap(\.stringValue).joined(separator: " ") ?? ""
            var line =
                "  " + Format.pad(level, 7, right: false) + " [" + Format.pad("\(Format.int(step["index"]))", 3) + "]"
            if let frame = step["tableFrame"]?.intValue { line += " in table frame \(frame)" }
            line += " = \(step["entry"]?.stringValue ?? "?")"
            line += flags.isEmpty ? "  (empty)" : "  \(flags)"
            lines.append(line)
        }
        var outcome = "  → \(t["outcome"]?.stringValue ?? "?")"
        if let pa = t["physicalAddress"]?.stringValue {
            outcome += ": physical \(pa) (frame \(Format.int(t["pfn"])))"
        } else if t["present"] == true {
            outcome += ": present (frame hidden: root only)"
        } else {
            outcome += t["outcome"] == "segv" ? "" : ": not present"
        }
        var bits: [String] = []
        for key in ["swapped", "fileOrSharedAnon", "exclusive", "softDirty"] where t[key] == true { bits.append(key) }
        if !bits.isEmpty { outcome += " [\(bits.joined(separator: ", "))]" }
        if let segv = t["segv"] { outcome += " — SIGSEGV: \(segv["reason"]?.stringValue ?? "")" }
        lines.append(outcome)
        return lines
    }

    static func hex(_ n: Int) -> String { "0x" + String(n, radix: 16) }
}
