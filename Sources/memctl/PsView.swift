import ArgumentParser
import MemdProtocol

/// `memctl ps`: `ps -eo pid,vsz,rss,maj_flt,min_flt,comm`, from `pageStats all`.
struct PsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ps",
        abstract: "Every process you may see with vsz, rss (KiB) and page faults, like ps -eo."
    )

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let result = try global.session { try $0.call(PageStatsMethod.self, .init(all: true)) }
        guard case .processes(_, let rows) = result else { throw ExitCode(1) }
        print(PsView.render(rows))
    }
}

enum PsView {
    static func render(_ rows: [PageStatsMethod.ProcessRow]) -> String {
        var lines = [
            Format.pad("PID", 7) + Format.pad("VSZ", 10) + Format.pad("RSS", 9) + Format.pad("MAJFL", 8)
                + Format.pad("MINFL", 10) + " COMMAND"
        ]
        for row in rows {
            lines.append(
                Format.pad("\(row.pid)", 7) + Format.pad("\(row.vsz / 1024)", 10) + Format.pad("\(row.rss / 1024)", 9)
                    + Format.pad("\(row.majflt)", 8) + Format.pad("\(row.minflt)", 10) + " " + row.command
            )
        }
        return lines.joined(separator: "\n")
    }
}
