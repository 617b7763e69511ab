import MemdProtocol
import ProcFS

/// `memctl maps -X` and `-XX`: procps 4.0.2's pmap.c, print_extended_maps, character for
/// character: every smaps line of each mapping as a column, widths measured on the data.
enum MapsFieldsView {
    /// The keys pmap -X leaves out (pmap.c, is_unimportant); -XX shows every key.
    static let leftOutByX: Set<String> = [
        "AnonHugePages", "KernelPageSize", "MMUPageSize", "Shared_Dirty", "Private_Dirty", "Shared_Clean",
        "Private_Clean",
    ]

    /// One mapping as pmap reads it from its smaps header line (kept as text, as printed there).
    struct Row {
        var cells: [String]  // Address, Perm, Offset, Device, Inode
        var values: [Int]  // the numbers smaps printed, one per column
        var vmFlags: String?
        var name: String
    }

    /// `everything`: -XX (VmFlags and every key); else -X. `quiet`: -q; `showPath`: -p.
    static func render(_ result: MapsMethod.Result, everything: Bool, quiet: Bool, showPath: Bool) -> String {
        var lines = ["\(result.pid):   \(MapsView.title(result))"]
        guard let first = result.mappings.first else { return lines.joined(separator: "\n") }
        // The columns are the first mapping's keys (pmap refuses a smaps whose keys differ).
        let keys = (first.smaps?.fields ?? []).map(\.key).filter { everything || !leftOutByX.contains($0) }
        let rows = result.mappings.map { row($0, keys: keys, showPath: showPath) }
        // Summed as pmap's unsigned longs do: wrapping, never trapping on a reply's figures.
        let totals = keys.indices.map { column in rows.reduce(0) { $0 &+ $1.values[column] } }

        // Widths: the longest text of each column; with a header, at least its title's, and
        // a key's column as wide as its total (pmap sizes it from the total, not the values).
        let titles = ["Address", "Perm", "Offset", "Device", "Inode"]
        var cellWidths = titles.indices.map { column in rows.map { $0.cells[column].utf8.count }.max() ?? 0 }
        var valueWidths = keys.indices.map { column in rows.map { "\($0.values[column])".utf8.count }.max() ?? 0 }
        let showsFlags = everything && rows.contains { $0.vmFlags != nil }
        var flagsWidth = rows.map { $0.vmFlags?.utf8.count ?? 0 }.max() ?? 0
        if !quiet {
            cellWidths = zip(cellWidths, titles).map { max($0, $1.utf8.count) }
            valueWidths = keys.indices.map { max(keys[$0].utf8.count, "\(totals[$0])".utf8.count) }
            flagsWidth = max(flagsWidth, "VmFlags".utf8.count)
            var header = zip(titles, cellWidths).map { Format.pad($0, $1) + " " }.joined()
            header += zip(keys, valueWidths).map { Format.pad($0, $1) + " " }.joined()
            if showsFlags { header += Format.pad("VmFlags", flagsWidth) + " " }
            lines.append(header + "Mapping")
        }
        for row in rows {
            var line = zip(row.cells, cellWidths).map { Format.pad($0, $1) }.joined(separator: " ")
            for (value, width) in zip(row.values, valueWidths) { line += " " + Format.pad("\(value)", width) }
            if showsFlags { line += " " + Format.pad(row.vmFlags ?? "", flagsWidth) }
            lines.append(line + " " + row.name)
        }
        if !quiet, !keys.isEmpty {
            let gap = String(repeating: " ", count: cellWidths.reduce(0) { $0 + $1 + 1 })
            lines.append(gap + valueWidths.map { String(repeating: "=", count: $0) + " " }.joined())
            lines.append(gap + zip(totals, valueWidths).map { Format.pad("\($0)", $1) + " " }.joined() + "KB ")
        }
        return lines.joined(separator: "\n")
    }

    static func row(_ mapping: Mapping, keys: [String], showPath: Bool) -> Row {
        let fields = mapping.smaps?.fields ?? []
        let values = keys.enumerated().map { index, key in
            // By position (the kernel's order), by name where a mapping's keys differ.
            let field =
                index < fields.count && fields[index].key == key ? fields[index] : fields.first { $0.key == key }
            return field?.printed ?? 0
        }
        let cells = [
            MapsView.hex(mapping.start, width: 8), mapping.perms, MapsView.hex(mapping.offset, width: 8),
            mapping.device, "\(mapping.inode)",
        ]
        return Row(
            cells: cells,
            values: values,
            vmFlags: mapping.smaps?.vmFlags.map(flags),
            name: name(mapping, showPath)
        )
    }

    /// pmap's `VmFlags: %127[a-z ]`: the flags as smaps prints them (each followed by a space),
    /// up to the first character not a lower-case letter or space, without the last space.
    static func flags(_ flags: [String]) -> String {
        let printed = flags.map { $0 + " " }.joined().utf8
        var kept = Array(printed.prefix { ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x20 }.prefix(127))
        if kept.last == 0x20 { kept.removeLast() }
        return String(decoding: kept, as: UTF8.self)
    }

    /// The rest of the smaps header line (`%127[^\n]`: at most 127 bytes), the part after its
    /// last `/`, or all of it with -p; empty for an anonymous mapping.
    static func name(_ mapping: Mapping, _ showPath: Bool) -> String {
        guard let path = mapping.path else { return "" }
        // As maps prints it: seq_file_path's `\012` for a newline, then " (deleted)".
        let printed = path.replacingNewlines + (mapping.isDeleted ? " (deleted)" : "")
        let desc = Array(printed.utf8.prefix(127))
        guard !showPath, let slash = desc.lastIndex(of: UInt8(ascii: "/")) else {
            return String(decoding: desc, as: UTF8.self)
        }
        return String(decoding: desc[(slash + 1)...], as: UTF8.self)
    }
}

extension String {
    /// The kernel's escape of a newline in a maps path (seq_file_path's `\012`).
    fileprivate var replacingNewlines: String {
        guard utf8.contains(0x0A) else { return self }
        return split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\\012")
    }
}
