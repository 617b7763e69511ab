import ArgumentParser
import JSONRPC
import MemdProtocol
import ProcFS

/// `memctl maps PID`: the mappings as `pmap -x` lays them out, from `maps` with detail.
struct MapsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maps",
        abstract: "A process's mappings, like pmap -x (Kbytes, RSS, Dirty per mapping)."
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The process id.") var pid: Int
    @Option(name: .long, help: "Read a simulated machine instead (pid is the simulated pid).") var machine: String?

    func run() throws {
        var params: JSONObject = ["pid": .int(pid), "detail": true]
        if let machine {
            params["source"] = "sim"
            params["machine"] = .string(machine)
        }
        // Checked by memd's own rule (a pid outside pid_t's range is its -32602, as ever).
        let result = try global.session { try $0.call(MapsMethod.self, try MapsMethod.params(params)) }
        print(MapsView.render(result))
    }
}

enum MapsView {
    static func render(_ result: MapsMethod.Result) -> String {
        var lines = ["\(result.pid):   \(result.command)"]
        lines.append("Address           Kbytes     RSS   Dirty Mode  Mapping")
        var totals = (size: 0, rss: 0, dirty: 0)
        for mapping in result.mappings {
            let start = hexString(mapping.start)
            let address = String(repeating: "0", count: max(0, 16 - (start.count - 2))) + start.dropFirst(2)
            let size = Int(mapping.size)
            let rss = mapping.detail?.rss ?? 0
            let dirty = (mapping.detail?.sharedDirty ?? 0) + (mapping.detail?.privateDirty ?? 0)
            totals.size += size
            totals.rss += rss
            totals.dirty += dirty
            lines.append(
                address + " " + Format.pad("\(size / 1024)", 7) + " " + Format.pad("\(rss / 1024)", 7) + " "
                    + Format.pad("\(dirty / 1024)", 7) + " " + mapping.perms + "  "
                    + name(mapping)
            )
        }
        lines.append("---------------- ------- ------- ------- ")
        lines.append(
            "total kB         " + Format.pad("\(totals.size / 1024)", 7) + " "
                + Format.pad("\(totals.rss / 1024)", 7) + " " + Format.pad("\(totals.dirty / 1024)", 7)
        )
        return lines.joined(separator: "\n")
    }

    /// pmap's Mapping column: the file's base name, or `[ anon ]`, `[ stack ]`, …
    static func name(_ mapping: Mapping) -> String {
        guard let path = mapping.path else { return "  [ anon ]" }
        if path.hasPrefix("[") { return "  [ " + path.dropFirst().dropLast() + " ]" }
        let base = path.split(separator: "/").last.map(String.init) ?? path
        return base + (mapping.isDeleted ? " (deleted)" : "")
    }
}
