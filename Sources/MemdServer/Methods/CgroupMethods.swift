import JSONRPC
import MemdProtocol
import ProcFS

/// `cgroups`, and the `cgroup` param of `meminfo` and `pageStats all`: the memory
/// cgroup tree, v2 or v1 (see ``CgroupReader``).
enum CgroupMethods {
    static func hierarchy(_ attribution: Attribution) throws(RPCError) -> CgroupHierarchy {
        guard let hierarchy = attribution.hierarchy else {
            throw .unsupported(
                "no memory cgroup hierarchy on this host (no cgroup2 mount with the memory controller, "
                    + "no v1 memory mount); memd --cgroup-root DIR names one"
            )
        }
        return hierarchy
    }

    /// The path checked to exist, else -32602 naming `param`.
    static func existing(_ path: CgroupPath, param: String, in hierarchy: CgroupHierarchy) throws(RPCError) {
        guard CgroupReader(hierarchy).exists(path) else {
            throw .invalidParams(param, "no cgroup \(path) under \(hierarchy.root)")
        }
    }

    static func cgroups(
        _ params: CgroupsMethod.Params,
        attribution: Attribution,
        work: WaitingWork
    ) async throws -> CgroupsMethod.Result {
        let hierarchy = try hierarchy(attribution)
        try existing(params.path, param: "path", in: hierarchy)
        let groups = try await work.run { _ in
            var reader = CgroupReader(hierarchy)
            return reader.tree(params.path, depth: params.depth, stat: params.stat).map(CgroupsMethod.Group.init)
        }
        return .init(version: hierarchy.version.rawValue, root: hierarchy.root, groups: groups)
    }

    /// `meminfo` for the real machine, with `cgroup` beside the host figures when asked.
    static func meminfo(cgroup: CgroupPath?, attribution: Attribution) throws -> MeminfoResult {
        var result = try ProcMethods.meminfo()
        guard let cgroup else { return result }
        let hierarchy = try hierarchy(attribution)
        try existing(cgroup, param: "cgroup", in: hierarchy)
        var reader = CgroupReader(hierarchy)
        result.cgroup = CgroupsMethod.Group(reader.read(cgroup, stat: false))
        return result
    }

    /// `pageStats all` limited to the processes of a cgroup and its descendants.
    static func processes(
        in cgroup: CgroupPath,
        peer: PeerCredentials,
        attribution: Attribution,
        work: WaitingWork
    ) async throws -> PageStatsMethod.Result {
        let hierarchy = try hierarchy(attribution)
        try existing(cgroup, param: "cgroup", in: hierarchy)
        let rows = try await work.run { flag in
            var cgroups = CgroupReader(hierarchy)
            var pids: [Int32] = []
            cgroups.walk(cgroup) { path in pids += cgroups.processIDs(path) }
            var rows: [PageStatsMethod.ProcessRow] = []
            // Another user's processes are left out, as in `pageStats all` (ProcMethods.processes).
            for pid in pids.sorted() where !flag.isCancelled {
                guard let row = try? ProcMethods.processRow(pid: pid, peer: peer) else { continue }
                rows.append(row)
            }
            return rows
        }
        return .processes(source: .proc, rows)
    }
}
