import ArgumentParser
import JSONRPC

/// `memctl ps`: `ps -eo pid,vsz,rss,maj_flt,min_flt,comm`, from `pageStats all`.
struct PsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ps",
        abstract: "Every process you may see with vsz, rss (KiB) and page faults, like ps -eo."
    )

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let result = try global.session { try $0.call("pageStats", ["all": true]) }
        print(PsView.render(result))
    }
}

enum PsView {
    static func render(_ result: JSON) -> String {
        var lines = [
            Format.pad("PID", 7) + Format.pad("VSZ", 10) + Format.pad("RSS", 9) + Format.pad("MAJFL", 8)
                + Format.pad("MINFL", 10) + " COMMAND"
        ]
        for row in result["processes"]?.arrayValue ?? [] {
            lines.append(
                Format.pad("\(Format.int(row["pid"]))", 7) + Format.pad("\(Format.int(row["vsz"]) / 1024)", 10)
                    + Format.pad("\(Format.int(row["rss"]) / 1024)", 9) + Format.pad("\(Format.int(row["majflt"]))", 8)
                    + Format.pad("\(Format.int(row["minflt"]))", 10) + " " + (row["command"]?.stringValue ?? "")
            )
        }
        return lines.joined(separator: "\n")
    }
}
