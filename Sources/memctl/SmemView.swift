import ArgumentParser
import MemdProtocol

#if canImport(Glibc)
import Glibc
#endif

/// `memctl smem`: smem 1.5's table (`PID User Command Swap USS PSS RSS`, KiB), from `usage`.
struct SmemCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "smem",
        abstract: "Who uses the memory, like smem: per process, or per user (-u), command (-c) or cgroup (-g).",
        discussion: """
            Sizes in KiB as smem prints them; -k or -h for units (1.5M). Sorted ascending by \
            -s FIELD (default pss), as smem does; -r reverses. -P filters processes by a regular \
            expression on their name or command line, before grouping. Unlike smem, -c means per \
            command here (smem's -c picks columns).
            """,
        helpNames: [.long]
    )

    @OptionGroup var global: GlobalOptions
    @Flag(name: .short, help: "One row per user.") var u = false
    @Flag(name: .short, help: "One row per command (comm).") var c = false
    @Flag(name: .short, help: "One row per memory cgroup.") var g = false
    @Option(name: .short, help: "Only processes whose name or command line matches this regular expression.")
    var P: String?
    @Option(name: .short, help: "Field to sort on (pid, user, name, command, cgroup, count, swap, uss, pss, rss).")
    var s: String?
    @Flag(name: .short, help: "Reverse the sort.") var r = false
    @Flag(name: .short, help: "A totals row.") var t = false
    @Flag(name: .short, help: "Sizes with unit suffixes (K, M, G).") var k = false
    @Flag(name: .short, help: "Same as -k.") var h = false
    @Flag(name: [.customShort("H"), .customLong("no-header")], help: "No header line.") var noHeader = false

    func validate() throws {
        if [u, c, g].filter({ $0 }).count > 1 { throw ValidationError("give at most one of -u, -c, -g") }
        if let P, (try? Regex(P)) == nil { throw ValidationError("-P: not a regular expression: \(P)") }
        if let s, !view.columns.contains(where: { $0.field == s }) && !(view == .processes && s == "name") {
            throw ValidationError(
                "-s: unknown field \(s) (known: \(view.columns.map(\.field).joined(separator: ", ")))"
            )
        }
    }

    var view: SmemView { u ? .users : c ? .commands : g ? .cgroups : .processes }

    func run() throws {
        let rows = try global.session { client throws -> [UsageMethod.Row] in
            var pids: [Int32]?
            if let P, let regex = try? Regex(P) {
                let all = try client.call(UsageMethod.self, .init(cmdline: true))
                let matching = all.rows.filter { row in
                    (row.command ?? "").contains(regex) || (row.cmdline ?? "").contains(regex)
                }
                if view == .processes { return matching }
                pids = matching.compactMap(\.pid)
            }
            let params = UsageMethod.Params(by: view.by, pids: pids, cmdline: view == .processes)
            return try client.call(UsageMethod.self, params).rows
        }
        print(
            view.render(rows, sort: s ?? "pss", reverse: r, totals: t, human: k || h, header: !noHeader),
            terminator: ""
        )
    }
}

/// The tables, laid out with smem's formats (`% 5s`, `%-8s`, `%-27.27s`, `% 8s`, each followed by a space).
enum SmemView: Equatable {
    case processes, users, commands, cgroups

    struct Column {
        var field: String
        var title: String
        var width: Int
        var left: Bool
        var truncate: Bool
        var isSize: Bool
    }

    var by: UsageGrouping {
        switch self {
        case .processes: return .process
        case .users: return .user
        case .commands: return .command
        case .cgroups: return .cgroup
        }
    }

    var columns: [Column] {
        let sizes = [("swap", "Swap"), ("uss", "USS"), ("pss", "PSS"), ("rss", "RSS")].map {
            Column(field: $0.0, title: $0.1, width: 8, left: false, truncate: false, isSize: true)
        }
        let count = Column(field: "count", title: "Count", width: 5, left: false, truncate: false, isSize: false)
        switch self {
        case .processes:
            return [
                Column(field: "pid", title: "PID", width: 5, left: false, truncate: false, isSize: false),
                Column(field: "user", title: "User", width: 8, left: true, truncate: false, isSize: false),
                Column(field: "command", title: "Command", width: 27, left: true, truncate: true, isSize: false),
            ] + sizes
        case .users:
            return [Column(field: "user", title: "User", width: 8, left: true, truncate: false, isSize: false), count]
                + sizes
        case .commands:
            return [
                Column(field: "command", title: "Command", width: 27, left: true, truncate: true, isSize: false),
                count,
            ] + sizes
        case .cgroups:
            return [
                Column(field: "cgroup", title: "Cgroup", width: 40, left: true, truncate: false, isSize: false),
                count,
            ] + sizes
        }
    }

    /// A cell's value: sizes in KiB as smem sums them; the process view's Command is the command line.
    func value(_ row: UsageMethod.Row, _ field: String) -> Sortable {
        switch field {
        case "swap": return .number((row.swap ?? 0) / 1024)
        case "uss": return .number(row.uss / 1024)
        case "pss": return .number(row.pss / 1024)
        case "rss": return .number(row.rss / 1024)
        case "pid": return .number(Int(row.pid ?? 0))
        case "count": return .number(row.count)
        case "command" where self == .processes:
            let cmdline = row.cmdline ?? ""
            return .text(cmdline.isEmpty ? row.command ?? "" : cmdline)
        case "name", "command": return .text(row.command ?? "")
        case "cgroup": return .text((row.cgroup ?? nil) ?? "-")
        case "user": return .text(row.user ?? "")
        default: return .text("")
        }
    }

    enum Sortable: Comparable {
        case number(Int)
        case text(String)

        var text: String {
            switch self {
            case .number(let n): return String(n)
            case .text(let t): return t
            }
        }
    }

    func cell(_ text: String, _ column: Column) -> String {
        var text = text
        if column.truncate, text.count > column.width { text = String(text.prefix(column.width)) }
        return Format.pad(text, column.width, right: !column.left)
    }

    func render(
        _ rows: [UsageMethod.Row],
        sort: String,
        reverse: Bool,
        totals: Bool,
        human: Bool,
        header: Bool
    ) -> String {
        var columns = self.columns
        // A cgroup's path is not cut (it names the group); its column widens to the longest.
        for index in columns.indices where !columns[index].truncate && columns[index].field == "cgroup" {
            columns[index].width = rows.reduce(columns[index].width) { max($0, value($1, "cgroup").text.count) }
        }
        func show(_ value: Sortable, _ column: Column) -> String {
            if column.isSize, human, case .number(let kib) = value { return Self.units(kib * 1024) }
            return value.text
        }
        // smem sorts (key, row) pairs: ties fall to the first column.
        let keyed = rows.map { (value($0, sort), value($0, columns[0].field), $0) }
        let sorted = keyed.sorted { a, b in a.0 != b.0 ? a.0 < b.0 : a.1 < b.1 }.map(\.2)
        let ordered = reverse ? Array(sorted.reversed()) : sorted
        var out = ""
        let headerLine = columns.map { cell($0.title, $0) + " " }.joined()
        if header { out += headerLine + "\n" }
        for row in ordered {
            out += columns.map { cell(show(value(row, $0.field), $0), $0) + " " }.joined() + "\n"
        }
        if totals {
            out += String(repeating: "-", count: headerLine.count) + "\n"
            let line = columns.map { column -> String in
                switch column.field {
                case "pid": return cell(String(rows.count), column)
                case "user" where self == .processes:
                    return cell(String(Set(rows.map { value($0, "user").text }).count), column)
                case "count", "swap", "uss", "pss", "rss":
                    let sum = rows.reduce(0) { total, row in
                        if case .number(let n) = value(row, column.field) { return total + n }
                        return total
                    }
                    return cell(show(.number(sum), column), column)
                default: return cell("", column)
                }
            }
            out += line.map { $0 + " " }.joined() + "\n"
        }
        return out
    }

    /// smem's `units`: one decimal and a suffix (`1.5M`), from bytes; `0` for nothing.
    static func units(_ bytes: Int) -> String {
        if bytes == 0 { return "0" }
        var value = Double(bytes)
        var suffix = ""
        for candidate in ["", "K", "M", "G", "T"] {
            suffix = candidate
            if value < 1024 { break }
            value /= 1024
        }
        // printf's %.1f rounds the exact binary value, as Python's does.
        var buffer = [CChar](repeating: 0, count: 64)
        _ = withVaList([value]) { vsnprintf(&buffer, buffer.count, "%.1f", $0) }
        let text = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: text, as: UTF8.self) + suffix
    }
}
