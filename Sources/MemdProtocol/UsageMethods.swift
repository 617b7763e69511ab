import JSONRPC
import ProcFS

/// How `usage` groups processes into rows.
public enum UsageGrouping: String, Sendable, CaseIterable {
    case process, user, command, cgroup
}

/// A row field `usage` can sort by (descending; ties by pid or name, ascending).
public enum UsageSortField: String, Sendable, CaseIterable {
    case pid, user, uid, command, cgroup, count, rss, pss, uss, swap, swapPss, pssAnon, pssFile, pssShmem

    /// Whether rows grouped `by` carry this field.
    public func isInRow(by grouping: UsageGrouping, swap: Bool) -> Bool {
        switch self {
        case .pid: return grouping == .process
        case .user, .uid: return grouping == .process || grouping == .user
        case .command: return grouping == .process || grouping == .command
        case .cgroup: return grouping == .process || grouping == .cgroup
        case .swap, .swapPss: return swap
        case .count, .rss, .pss, .uss, .pssAnon, .pssFile, .pssShmem: return true
        }
    }
}

/// `usage` — who uses the memory: smem for the whole host, from smaps_rollup.
public enum UsageMethod: MethodDescriptor {
    public static let name = "usage"
    /// Most pids in the `pids` param (pid_max's ceiling on 64-bit Linux is 4,194,304).
    public static let maxPIDs = 1 << 22
    public struct Params: Sendable {
        public var by: UsageGrouping
        /// Only these processes (nil: every process).
        public var pids: [Int32]?
        public var sort: UsageSortField
        public var limit: Int?
        public var swap: Bool
        /// Also read /proc/PID/cmdline into each process row (`cmdline`), as smem's Command shows.
        public var cmdline: Bool

        public init(
            by: UsageGrouping = .process,
            pids: [Int32]? = nil,
            sort: UsageSortField = .pss,
            limit: Int? = nil,
            swap: Bool = true,
            cmdline: Bool = false
        ) {
            (self.by, self.pids, self.sort, self.limit, self.swap, self.cmdline) = (
                by, pids, sort, limit, swap, cmdline
            )
        }
    }

    public static func decode(_ p: inout ParamReader) throws(RPCError) -> Params {
        let by = try p.choice("by", as: UsageGrouping.self) ?? .process
        var pids: [Int32]?
        if let list = try p.array("pids") {
            guard list.count <= maxPIDs else { throw .invalidParams("pids", "at most \(maxPIDs) pids") }
            var checked: [Int32] = []
            checked.reserveCapacity(list.count)
            for value in list {
                guard let pid = PID.checked(value) else {
                    throw .invalidParams("pids", "every pid must be an integer from 1 to \(Int32.max)")
                }
                checked.append(pid)
            }
            pids = checked
        }
        let sort = try p.choice("sort", as: UsageSortField.self) ?? .pss
        let limit = try p.int("limit", min: 0)
        let swap = try p.bool("swap") ?? true
        let cmdline = try p.bool("cmdline") ?? false
        guard sort.isInRow(by: by, swap: swap) else {
            throw .invalidParams("sort", "rows grouped by \(by.rawValue) have no field \"\(sort.rawValue)\"")
        }
        if cmdline, by != .process { throw .invalidParams("cmdline", "only with by \"process\"") }
        return Params(by: by, pids: pids, sort: sort, limit: limit, swap: swap, cmdline: cmdline)
    }
}

/// `cgroups` — the memory cgroup tree: usage, limit, peak, working set, OOM kills, pressure.
public enum CgroupsMethod: MethodDescriptor {
    public static let name = "cgroups"
    public struct Params: Sendable {
        public var path: CgroupPath
        /// Levels below `path` (nil: all).
        public var depth: Int?
        public var stat: Bool

        public init(path: CgroupPath = CgroupPath(components: []), depth: Int? = nil, stat: Bool = false) {
            (self.path, self.depth, self.stat) = (path, depth, stat)
        }
    }

    public static func decode(_ p: inout ParamReader) throws(RPCError) -> Params {
        let path = try decodeCgroupPath(&p, "path") ?? CgroupPath(components: [])
        return Params(path: path, depth: try p.int("depth", min: 0, max: 4096), stat: try p.bool("stat") ?? false)
    }
}

/// A cgroup path param (`path` of `cgroups`, `cgroup` of `meminfo` and `pageStats`):
/// checked here, once, so that it never leads outside the cgroup root.
public func decodeCgroupPath(_ p: inout ParamReader, _ name: String) throws(RPCError) -> CgroupPath? {
    guard let text = try p.string(name) else { return nil }
    switch CgroupPath.parse(text) {
    case .success(let path): return path
    case .failure(let error): throw .invalidParams(name, error.message)
    }
}

/// The `cgroup` param of `meminfo` and `pageStats` (source proc only).
func decodeCgroupParam(_ p: inout ParamReader) throws(RPCError) -> CgroupPath? {
    let path = try decodeCgroupPath(&p, "cgroup")
    if path != nil, p.object["source"]?.stringValue == "sim" {
        throw .invalidParams("cgroup", "only with source \"proc\"")
    }
    return path
}
