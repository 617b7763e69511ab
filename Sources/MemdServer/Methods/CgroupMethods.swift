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
    ) async throws -> JSON {
        let hierarchy = try hierarchy(attribution)
        try existing(params.path, param: "path", in: hierarchy)
        let groups = try await work.run { _ in
            var reader = CgroupReader(hierarchy)
            return reader.tree(params.path, depth: params.depth, stat: params.stat).map { $0.json }
        }
        return [
            "version": .int(hierarchy.version.rawValue), "root": .string(hierarchy.root),
            "groups": .array(groups),
        ]
    }

    /// `meminfo` for the real machine, with `cgroup` beside the host figures when asked.
    static func meminfo(cgroup: CgroupPath?, attribution: Attribution) throws -> JSON {
        let host = try ProcMethods.meminfo()
        guard let cgroup else { return host }
        let hierarchy = try hierarchy(attribution)
        try existing(cgroup, param: "cgroup", in: hierarchy)
        guard case .object(var object) = host else { return host }
        var reader = CgroupReader(hierarchy)
        object["cgroup"] = reader.read(cgroup, stat: false).json
        return .object(object)
    }

    /// `pageStats all` limited to the processes of a cgroup and its descendants.
    static func processes(
        in cgroup: CgroupPath,
        peer: PeerCredentials,
        attribution: Attribution,
        work: WaitingWork
    ) async throws -> JSON {
        let hierarchy = try hierarchy(attribution)
        try existing(cgroup, param: "cgroup", in: hierarchy)
        let rows = try await work.run { flag in
            var cgroups = CgroupReader(hierarchy)
            var pids: [Int32] = []
            cgroups.walk(cgroup) { path in pids += cgroups.processIDs(path) }
            var rows: [JSON] = []
            // Another user's processes are left out, as in `pageStats all` (ProcMethods.processes).
            for pid in pids.sorted() where !flag.isCancelled {
                guard let row = try? ProcMethods.processRow(pid: pid, peer: peer) else { continue }
                rows.append(.object(row.json))
            }
            return rows
        }
        return ["source": "proc", "scope": "processes", "processes": .array(rows)]
    }
}

extension CgroupMemory {
    /// A `cgroups` entry (and `meminfo`'s `cgroup`).
    var json: JSON {
        func int(_ value: Int?) -> JSON { value.map(JSON.int) ?? .null }
        var object: JSONObject = [
            "path": .string(path.description), "current": int(current), "max": int(max), "high": int(high),
            "peak": int(peak), "swapCurrent": int(swapCurrent), "workingSet": int(workingSet),
        ]
        if let events {
            object["events"] = [
                "low": int(events.low), "high": int(events.high), "max": int(events.max), "oom": int(events.oom),
                "oomKill": int(events.oomKill), "underOom": events.underOom.map(JSON.bool) ?? .null,
            ]
        } else {
            object["events"] = .null
        }
        object["pressure"] = pressure?.json ?? .null  // the same encoder as meminfo's pressure
        object["processes"] = int(processes)
        if let stat { object["stat"] = .object(JSONObject(stat.map { (key: $0.key, value: JSON.int($0.value)) })) }
        return .object(object)
    }
}
