import JSONRPC
import MemdProtocol

// `memctl experiment`: how runExperiment's results and progress look to a person.
// Pure functions of the JSON the server returns; the command wiring is elsewhere.

/// One line for an `experiment.progress` notification: a bar when the step has
/// `touchedBytes`/`totalBytes`, else the phase and message. `width` is the terminal's.
func renderExperimentProgress(_ params: JSON, width: Int) -> String {
    let phase = params["phase"]?.stringValue ?? "?"
    let message = params["message"]?.stringValue ?? phase
    guard let done = params["touchedBytes"]?.intValue, let total = params["totalBytes"]?.intValue, total > 0 else {
        return clip("[\(phase)] \(message)", width)
    }
    let fraction = min(1, max(0, Double(done) / Double(total)))
    let label = " \(Int((fraction * 100).rounded()))% \(formatBytes(done))/\(formatBytes(total)) \(phase)"
    let barWidth = max(10, min(50, width - label.count - 2))
    let filled = Int((fraction * Double(barWidth)).rounded())
    let bar = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: barWidth - filled) + "]"
    return clip(bar + label, width)
}

/// The whole result of `runExperiment`, as a page a person would rather read than JSON.
func renderExperiment(_ result: RunExperimentMethod.Result) -> String {
    let name = result.name.rawValue
    var lines = ["experiment \(name) — backend \(result.backend.rawValue), \(result.durationMs) ms"]
    if let real = result.real.map(JSON.object) {
        lines.append("")
        lines.append(
            "real (pid \(real["pid"]?.intValue ?? 0), uid \(real["uid"]?.intValue ?? 0), \(real["durationMs"]?.intValue ?? 0) ms)"
        )
        lines += renderBackend(name, real).map(indent)
    }
    if let sim = result.sim, sim.objectValue != nil {
        lines.append("")
        lines.append("sim (pid \(sim["pid"]?.intValue ?? 0))")
        lines += renderBackend(name, sim, isSimulated: true).map(indent)
    }
    if let comparison = result.comparison.map(JSON.object) {
        lines.append("")
        lines.append("real vs sim")
        lines += renderComparison(comparison).map(indent)
    }
    return lines.joined(separator: "\n")
}

/// The per-experiment part of `real` or `sim`.
func renderBackend(_ name: String, _ r: JSON, isSimulated: Bool = false) -> [String] {
    switch name {
    case "demandPaging": return renderDemandPaging(r)
    case "cow": return renderCow(r)
    case "mmap": return renderMmap(r)
    case "filemap": return renderFilemap(r, isSimulated: isSimulated)
    case "segv": return renderSegv(r)
    case "malloc":
        return table(
            [
                ["requested", formatBytes(r["requestedBytes"]?.intValue)],
                ["allocations", "\(r["allocations"]?.intValue ?? 0) × \(formatBytes(r["blockBytes"]?.intValue))"],
                ["heap + arenas grew", formatBytes(r["heapGrowthBytes"]?.intValue)],
                [
                    "overhead",
                    formatBytes(r["overheadBytes"]?.intValue) + "  (malloc takes memory from the kernel in pools)",
                ],
            ],
            header: nil
        )
    case "vmExhaustion":
        return table(
            [
                ["RLIMIT_AS", formatBytes(r["limitBytes"]?.intValue)],
                ["mmap of", formatBytes(r["attemptBytes"]?.intValue)],
                ["failed with", r["errno"]?.stringValue ?? "(did not fail)"],
                [
                    "MemAvailable",
                    formatBytes(r["memAvailable"]?.intValue) + "  (virtual memory ran out, not physical)",
                ],
            ],
            header: nil
        )
    case "oom":
        return table(
            [
                [
                    "limit",
                    "\(r["cgroup"]?.stringValue.map { "cgroup \($0)" } ?? "the whole simulated machine"): \(formatBytes(r["limitBytes"]?.intValue))",
                ],
                [
                    "touched before the kill",
                    formatBytes(r["touchedBytes"]?.intValue)
                        + "  (at its last sample; the kill came while it touched more)",
                ],
                ["killed by", r["killedBy"]?.stringValue ?? "(not killed)"],
                ["oom_kill count", "\(r["oomKillsBefore"]?.intValue ?? 0) → \(r["oomKillsAfter"]?.intValue ?? 0)"],
            ],
            header: nil
        )
    default:
        return [JSONWriter.string(r)]
    }
}

private func renderDemandPaging(_ r: JSON) -> [String] {
    let samples = r["samples"]?.arrayValue ?? []
    var lines = [
        "size \(formatBytes(r["size"]?.intValue)), step \(formatBytes(r["step"]?.intValue)), THP mode: \(r["thp"]?.stringValue ?? "?")",
        "",
    ]
    let rows = samples.map { s in
        [
            s["phase"]?.stringValue ?? "", formatBytes(s["touchedBytes"]?.intValue), formatBytes(s["vsz"]?.intValue),
            formatBytes(s["rss"]?.intValue), "\(s["minflt"]?.intValue ?? 0)", "\(s["majflt"]?.intValue ?? 0)",
        ]
    }
    lines += table(rows, header: ["phase", "touched", "vsz", "rss", "minflt", "majflt"])
    lines.append("")
    lines.append("rss, step by step:")
    let maxRss = samples.compactMap { $0["rss"]?.intValue }.max() ?? 1
    let labels = samples.map { s in
        let touched = s["touchedBytes"]?.intValue ?? 0
        return s["phase"]?.stringValue == "touched"
            ? "touched \(formatBytes(touched))" : (s["phase"]?.stringValue ?? "")
    }
    let labelWidth = labels.map(\.count).max() ?? 0
    for (label, s) in zip(labels, samples) {
        let rss = s["rss"]?.intValue ?? 0
        let bar = String(repeating: "█", count: maxRss > 0 ? Int((Double(rss) / Double(maxRss) * 40).rounded()) : 0)
        lines.append(pad(label, labelWidth) + " │" + bar + " " + formatBytes(rss))
    }
    if let faults = r["faultsDuringTouch"]?.intValue, let size = r["size"]?.intValue {
        lines.append("")
        if r["hugePages"]?.boolValue == true {
            // One fault maps a whole 2 MiB page where THP gave one; a 4 KiB page elsewhere.
            lines.append(
                "page faults while touching: \(faults) (one per page: size / 2 MiB = \(size / (2 << 20)) "
                    + "huge pages, size / 4 KiB = \(size / 4096) small ones)"
            )
        } else {
            lines.append("page faults while touching: \(faults) (one per 4 KiB page: size / 4 KiB = \(size / 4096))")
        }
    }
    return lines
}

private func renderCow(_ r: JSON) -> [String] {
    let before = r["child"]?["beforeWrite"]
    let after = r["child"]?["afterWrite"]
    var lines = [
        "size \(formatBytes(r["size"]?.intValue)); before fork: system used \(formatBytes(r["beforeFork"]?["systemUsed"]?.intValue)), parent rss \(formatBytes(r["beforeFork"]?["parentRss"]?.intValue))",
        "",
    ]
    let rows: [[String]] = [
        ["rss", formatBytes(before?["rss"]?.intValue), formatBytes(after?["rss"]?.intValue)],
        ["shared", formatBytes(before?["shared"]?.intValue), formatBytes(after?["shared"]?.intValue)],
        ["private", formatBytes(before?["private"]?.intValue), formatBytes(after?["private"]?.intValue)],
        ["minflt", "\(before?["minflt"]?.intValue ?? 0)", "\(after?["minflt"]?.intValue ?? 0)"],
    ]
    lines += table(rows, header: ["child", "before write", "after write"])
    let usedBefore = r["beforeFork"]?["systemUsed"]?.intValue ?? 0
    let usedAfterWrite = r["systemUsedAfterWrite"]?.intValue ?? 0
    lines.append("")
    if let afterFork = r["systemUsedAfterFork"]?.intValue {
        lines.append("the host's used memory \(change(afterFork - usedBefore)) at the fork (the pages are shared)")
        lines.append("the host's used memory \(change(usedAfterWrite - afterFork)) at the write (each page copied)")
    } else {
        lines.append(
            "the host's used memory \(change(usedAfterWrite - usedBefore)) from before the fork to after the write"
        )
    }
    if let anon = r["anonPages"], let before = anon["beforeFork"]?.intValue, let fork = anon["afterFork"]?.intValue,
        let write = anon["afterWrite"]?.intValue
    {
        lines.append(
            "anonymous memory (AnonPages) \(change(fork - before)) at the fork, \(change(write - fork)) at the write"
        )
    }
    lines.append("(the host's figures move with everything else running: the size is \(mib(r["size"]?.intValue ?? 0)))")
    lines.append("page faults during the write: \(r["faultsDuringWrite"]?.intValue ?? 0)")
    return lines
}

private func mappingLine(_ m: JSON, note: String = "") -> String {
    // As pmap names a mapping with no file: anonymous memory (heap, stacks, mmap's own).
    let path = (m["path"]?.stringValue ?? "[ anon ]") + note
    return
        "\(m["start"]?.stringValue ?? "?")-\(m["end"]?.stringValue ?? "?") \(m["perms"]?.stringValue ?? "????") \(pad(formatBytes(m["size"]?.intValue), 10)) \(path)"
}

private func renderMmap(_ r: JSON) -> [String] {
    var lines = ["mmap(\(formatBytes(r["size"]?.intValue))) returned \(r["address"]?.stringValue ?? "?")", ""]
    let added = r["added"]?.arrayValue ?? []
    let removed = r["removed"]?.arrayValue ?? []
    let addedStarts = Set(added.compactMap { $0["start"]?.stringValue })
    lines.append("maps after (+ new or grown, - gone):")
    for m in removed { lines.append("- " + mappingLine(m)) }
    for m in r["mapsAfter"]?.arrayValue ?? [] {
        let isNew = m["start"]?.stringValue.map(addedStarts.contains) ?? false
        let note = isNew && m["path"]?.stringValue == nil ? "  ← the new region: no file behind it" : ""
        lines.append((isNew ? "+ " : "  ") + mappingLine(m, note: note))
    }
    return lines
}

private func renderFilemap(_ r: JSON, isSimulated: Bool) -> [String] {
    let path = r["path"]?.stringValue ?? "?"
    var lines: [String]
    if isSimulated {
        lines = ["file \(path) of the simulated machine (its page cache only: there is no such file on this host)"]
    } else {
        let cleanedUp = r["tempFileRemoved"]?.boolValue == true ? "removed afterwards" : "NOT removed"
        lines = ["file \(path) (a temporary file, \(cleanedUp))"]
    }
    if let m = r["mapping"], m.objectValue != nil { lines.append("+ " + mappingLine(m)) }
    lines += table(
        [
            ["read through the mapping", quoted(r["before"])],
            ["after memcpy(\"HELLO\")", quoted(r["after"])],
            ["the file, by read()", quoted(r["fileAfter"])],
        ],
        header: nil
    )
    return lines
}

private func renderSegv(_ r: JSON) -> [String] {
    var lines = ["output:"]
    lines += (r["output"]?.arrayValue ?? []).map { "  | " + ($0.stringValue ?? "") }
    let signal = r["signal"]?.intValue.map { " (signal \($0))" } ?? ""
    lines.append("terminated by \(r["terminatedBy"]?.stringValue ?? "nothing")\(signal)")
    if let address = r["faultAddress"]?.stringValue { lines.append("fault address \(address)") }
    return lines
}

private func renderComparison(_ c: JSON) -> [String] {
    guard case .object(let object) = c else { return [] }
    var rows: [[String]] = []
    var notes: [String] = []
    for (key, value) in object.members {
        if let text = value.stringValue {
            notes.append(text)
        } else if let real = value["real"], let sim = value["sim"] {
            rows.append([key, describe(real), describe(sim)])
        } else {
            rows.append([key, describe(value), ""])
        }
    }
    var lines = table(rows, header: ["", "real", "sim"])
    if !notes.isEmpty { lines.append("") }
    lines += notes
    return lines
}

// MARK: - Formatting

private func indent(_ line: String) -> String { line.isEmpty ? line : "  " + line }

private func describe(_ value: JSON) -> String {
    switch value {
    case .int(let i): return "\(i)"
    case .double(let d): return "\(d)"
    case .string(let s): return s.replacingNewlines()
    case .bool(let b): return "\(b)"
    case .null: return "—"
    default: return JSONWriter.string(value)
    }
}

private func quoted(_ value: JSON?) -> String {
    guard let text = value?.stringValue else { return "—" }
    return "\"" + text.replacingNewlines() + "\""
}

extension String {
    fileprivate func replacingNewlines() -> String {
        var out = ""
        for c in self { out += c == "\n" ? "\\n" : String(c) }
        return out
    }
}

/// Bytes in the largest binary unit that keeps them ≥ 1, as free -h does.
func formatBytes(_ bytes: Int?) -> String {
    guard let bytes else { return "—" }
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(abs(bytes))
    var unit = 0
    while value >= 1024, unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    let sign = bytes < 0 ? "-" : ""
    if unit == 0 { return "\(sign)\(Int(value)) B" }
    let rounded = (value * 10).rounded() / 10
    let text = rounded == rounded.rounded() ? "\(Int(rounded))" : "\(rounded)"
    return "\(sign)\(text) \(units[unit])"
}

/// A change in MiB, one decimal, said in words: "grew by 100.0 MiB", "shrank by 2.9 MiB".
private func change(_ bytes: Int) -> String {
    let text = mib(abs(bytes))
    if text == "0.0 MiB" { return "did not change (less than 0.1 MiB)" }
    return (bytes > 0 ? "grew by " : "shrank by ") + text
}

private func mib(_ bytes: Int) -> String {
    let tenths = (Double(bytes) / Double(1 << 20) * 10).rounded()
    let whole = Int(tenths) / 10
    return "\(whole).\(abs(Int(tenths)) % 10) MiB"
}

private func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}

private func clip(_ text: String, _ width: Int) -> String {
    width > 0 && text.count > width ? String(text.prefix(width)) : text
}

/// Columns padded to their widest cell; the header underlined.
private func table(_ rows: [[String]], header: [String]?) -> [String] {
    let all = (header.map { [$0] } ?? []) + rows
    let columns = all.map(\.count).max() ?? 0
    let widths = (0..<columns).map { c in all.map { c < $0.count ? $0[c].count : 0 }.max() ?? 0 }
    func line(_ row: [String]) -> String {
        row.enumerated().map { c, cell in c == row.count - 1 ? cell : pad(cell, widths[c]) }.joined(separator: "  ")
    }
    var lines: [String] = []
    if let header {
        lines.append(line(header))
        lines.append(widths.map { String(repeating: "─", count: $0) }.joined(separator: "  "))
    }
    lines += rows.map(line)
    return lines
}
