import ArgumentParser
import MemdProtocol

/// `memctl ps [-o COLUMNS]`: `ps -eo COLUMNS` (default `pid,vsz,rss,maj_flt,min_flt,comm`), from
/// `pageStats all`, laid out as procps 4's ps lays it out.
struct PsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ps",
        abstract: "Every process you may see, like ps -eo pid,vsz,rss,maj_flt,min_flt,comm (sizes in KiB).",
        discussion: """
            -o takes ps's names of the columns memd's rows hold: pid (tgid), vsz (vsize), rss (rsz), \
            maj_flt (majflt), min_flt (minflt), comm (ucmd, ucomm); NAME=HEADER renames a column, as in ps.
            """
    )

    @OptionGroup var global: GlobalOptions
    @Option(name: .short, help: "Columns, comma- or space-separated (as ps -o); may be repeated.")
    var o: [String] = []

    func validate() throws { _ = try PsView.columns(o) }

    func run() throws {
        let columns = try PsView.columns(o)
        let result = try global.session { try $0.call(PageStatsMethod.self, .init(all: true)) }
        guard case .processes(_, let rows) = result else { throw ExitCode(1) }
        print(PsView.render(rows, columns: columns, pidWidth: PsView.pidWidth()))
    }
}

enum PsView {
    typealias Row = PageStatsMethod.ProcessRow

    /// One of ps's format specifiers (procps 4's output.c format_array): header, width, justification.
    struct Column: Sendable {
        var header: String
        var width: Int
        var isRight: Bool
        var isPID = false
        var value: @Sendable (Row) -> String
    }

    static let known: [String: Column] = {
        let pid = Column(header: "PID", width: 5, isRight: true, isPID: true) { "\($0.pid)" }
        let vsz = Column(header: "VSZ", width: 6, isRight: true) { "\($0.vsz / 1024)" }
        let rss = Column(header: "RSS", width: 5, isRight: true) { "\($0.rss / 1024)" }
        let comm = Column(header: "COMMAND", width: 15, isRight: false) { $0.command }
        func renamed(_ column: Column, _ header: String) -> Column {
            var copy = column
            copy.header = header
            return copy
        }
        return [
            "pid": pid, "tgid": renamed(pid, "TGID"), "vsz": vsz, "vsize": vsz, "rss": rss,
            "rsz": renamed(rss, "RSZ"),
            "maj_flt": Column(header: "MAJFL", width: 6, isRight: true) { "\($0.majflt)" },
            "majflt": Column(header: "MAJFLT", width: 6, isRight: true) { "\($0.majflt)" },
            "min_flt": Column(header: "MINFL", width: 6, isRight: true) { "\($0.minflt)" },
            "minflt": Column(header: "MINFLT", width: 6, isRight: true) { "\($0.minflt)" },
            "comm": comm, "ucomm": comm, "ucmd": renamed(comm, "CMD"),
        ]
    }()

    /// The columns `-o` asks for, parsed as procps 4's format_parse does: items between spaces,
    /// commas, tabs or newlines (one trailing one allowed); `NAME:WIDTH` sets a width,
    /// `NAME=HEADER` a header (the last item's header takes the rest of the text).
    static func columns(_ options: [String]) throws -> [Column] {
        let specs = options.isEmpty ? ["pid,vsz,rss,maj_flt,min_flt,comm"] : options
        let separators: Set<Character> = [" ", ",", "\t", "\n"]
        var columns: [Column] = []
        for spec in specs {
            var text = Array(spec)
            var items = 0
            var needItem = true
            for (index, character) in text.enumerated() {
                if separators.contains(character) {
                    guard !needItem else { throw ValidationError("ps -o: improper format list '\(spec)'") }
                    needItem = true
                } else {
                    if needItem { items += 1 }
                    needItem = false
                }
                if index == text.count - 1, needItem { text.removeLast() }  // one trailing separator
            }
            guard items > 0 else { throw ValidationError("ps -o: empty format list") }
            var rest = text[...]
            while items > 0 {
                items -= 1
                var item = rest
                if items > 0, let separator = rest.firstIndex(where: separators.contains) {
                    item = rest[..<separator]
                    rest = rest[rest.index(after: separator)...]
                }
                var name = item
                var header: ArraySlice<Character>?
                if let equal = item.firstIndex(of: "=") {
                    name = item[..<equal]
                    header = item[item.index(after: equal)...]
                }
                var width: Int?
                if let colon = name.firstIndex(of: ":") {
                    let digits = String(name[name.index(after: colon)...])
                    guard let value = Int(digits), value > 0, !digits.hasPrefix("0"), digits.allSatisfy(\.isNumber)
                    else { throw ValidationError("ps -o: width override '\(digits)' must be a positive number") }
                    width = value
                    name = name[..<colon]
                }
                guard var column = known[String(name)] else {
                    throw ValidationError(
                        "ps -o: no column '\(String(name))' in memd's rows; known: "
                            + known.keys.sorted().joined(separator: ", ")
                    )
                }
                if let header {
                    column.header = String(header)
                    column.width = max(column.width, header.count)
                }
                if let width { column.width = width }
                columns.append(column)
            }
        }
        return columns
    }

    /// ps widens pid columns to the digits of /proc/sys/kernel/pid_max (procps_pid_length).
    static func pidWidth() -> Int {
        let fd = open("/proc/sys/kernel/pid_max", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return 5 }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        let digits = buffer.prefix(max(count, 0)).prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        return digits.isEmpty ? 5 : digits.count
    }

    static func render(_ rows: [Row], columns given: [Column], pidWidth: Int) -> String {
        let columns = given.map { column -> Column in
            var copy = column
            if copy.isPID { copy.width = max(copy.width, pidWidth, copy.header.count) }
            return copy
        }
        // ps leaves the header out when every column's header is empty (`-o pid=,comm=`).
        var lines = columns.allSatisfy(\.header.isEmpty) ? [] : [line(columns.map(\.header), columns, isHeader: true)]
        for row in rows { lines.append(line(columns.map { $0.value(row) }, columns)) }
        return lines.joined(separator: "\n")
    }

    /// ps's show_one_proc: each column where it should start (`correct`), a text too wide pushing
    /// the next one right (`actual`), at least one space between two columns.
    static func line(_ texts: [String], _ columns: [Column], isHeader: Bool = false) -> String {
        var text = ""
        var correct = 0
        var actual = 0
        var needsSpace = 0
        for (index, (full, column)) in zip(texts, columns).enumerated() {
            // A text column before the last is cut to its width (pr_comm's max_rightward).
            let isCut = !isHeader && !column.isRight && index < columns.count - 1
            let value = isCut ? String(full.prefix(column.width)) : full
            let amount = value.count
            let leftPad = column.isRight ? max(column.width - amount, 0) : 0
            var space = correct - actual + leftPad
            if space < 1 { space = needsSpace }
            text += String(repeating: " ", count: space) + value
            if index == columns.count - 1 { break }
            actual += space + amount
            correct += column.width + 1
            needsSpace = 1
        }
        return text
    }
}

#if canImport(Glibc)
import Glibc
#endif
