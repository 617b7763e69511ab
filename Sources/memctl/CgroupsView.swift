import ArgumentParser
import MemdProtocol
import ProcFS

/// `memctl cgroups`: the memory cgroup tree, indented, from `cgroups`.
struct CgroupsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cgroups",
        abstract: "The memory cgroup tree: current, max, peak, working set, OOM kills, pressure (some avg10).",
        discussion: "Like systemd-cgtop's memory column, as a tree. `-` where the kernel has no figure or no limit."
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The subtree to show (default /).") var path: String?
    @Option(name: .long, help: "Levels below PATH (0: PATH alone).") var depth: Int?
    @Flag(name: .long, help: "Sizes in bytes instead of Ki/Mi/Gi.") var bytes = false

    func run() throws {
        let result = try global.session { client in
            var params = CgroupsMethod.Params(depth: depth)
            if let path {
                // The server's own rule and answer for a path it would refuse.
                switch CgroupPath.parse(path) {
                case .success(let parsed): params.path = parsed
                case .failure(let error): throw MemdClient.Failure.server(.invalidParams("path", error.message))
                }
            }
            return try client.call(CgroupsMethod.self, params)
        }
        print(CgroupsView.render(result, bytes: bytes))
    }
}

enum CgroupsView {
    static func render(_ result: CgroupsMethod.Result, bytes: Bool) -> String {
        let groups = result.groups
        let base = groups.first?.path ?? "/"
        let baseDepth = base == "/" ? 0 : base.split(separator: "/").count
        var names: [String] = []
        for group in groups {
            let path = group.path
            let parts = path.split(separator: "/")
            let level = parts.count - baseDepth
            let name = level == 0 ? path : String(parts.last ?? "")
            names.append(String(repeating: "  ", count: max(0, level)) + name)
        }
        let width = max(6, min(60, names.map(\.count).max() ?? 6))
        func size(_ value: Int?) -> String {
            guard let value else { return "-" }
            return bytes ? String(value) : Format.human(value)
        }
        let sizeWidth = bytes ? 14 : 8
        var lines = [
            Format.pad("CGROUP", width, right: false) + Format.pad("CURRENT", sizeWidth + 1)
                + Format.pad("MAX", sizeWidth + 1)
                + Format.pad("PEAK", sizeWidth + 1) + Format.pad("WORKSET", sizeWidth + 1) + Format.pad("OOMKILL", 8)
                + Format.pad("PSI10", 7) + Format.pad("PROCS", 6)
        ]
        lines[0] = "v\(result.version) \(result.root)\n" + lines[0]
        for (group, name) in zip(groups, names) {
            let oom = group.events?.oomKill.map(String.init) ?? "-"
            let psi = group.pressure.map { Format.fixed($0.some.avg10, 2) } ?? "-"
            let procs = group.processes.map(String.init) ?? "-"
            let label = name.count > width ? String(name.prefix(width - 1)) + "…" : name
            lines.append(
                Format.pad(label, width, right: false) + Format.pad(size(group.current), sizeWidth + 1)
                    + Format.pad(size(group.max), sizeWidth + 1) + Format.pad(size(group.peak), sizeWidth + 1)
                    + Format.pad(size(group.workingSet), sizeWidth + 1) + Format.pad(oom, 8) + Format.pad(psi, 7)
                    + Format.pad(procs, 6)
            )
        }
        return lines.joined(separator: "\n")
    }
}
