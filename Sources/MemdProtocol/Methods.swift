import JSONRPC
import ProcFS

/// Where a method reads memory from.
public enum Source: String, Sendable, CaseIterable {
    case proc, sim
}

/// `source?` and `machine?`, the two params every introspection method shares.
public struct Target: Sendable, Equatable {
    public var source: Source
    public var machine: String?

    /// The one rule for the pair. `inferSource`: a `machine` without `source` means `sim`
    /// (`simulateTranslation`); elsewhere `source` defaults to `proc`.
    static func decode(_ params: inout ParamReader, inferSource: Bool = false) throws(RPCError) -> Target {
        let given = try params.choice("source", as: Source.self)
        let machine = try params.string("machine")
        let source = given ?? (inferSource && machine != nil ? .sim : .proc)
        if source == .sim, machine == nil { throw .invalidParams("machine", "required with source \"sim\"") }
        if source == .proc, machine != nil { throw .invalidParams("machine", "only with source \"sim\"") }
        return Target(source: source, machine: machine)
    }
}

/// A pid param: a positive integer that fits pid_t.
func decodePID(_ params: inout ParamReader, _ name: String = "pid") throws(RPCError) -> Int32? {
    try params.int(name, min: PID.range.lowerBound, max: PID.range.upperBound).map { Int32($0) }
}

/// The one rule for a pid, real or simulated, from a client or from memlab: 1 … 2^31−1 (pid_t).
public enum PID {
    public static let range = 1...Int(Int32.max)

    /// `value` as a pid, or nil when it is not an integer in `range`.
    public static func checked(_ value: JSON) -> Int32? {
        guard let number = value.intValue, range.contains(number) else { return nil }
        return Int32(number)
    }
}

/// `meminfo` — what `free` and `sar -r` show.
public enum MeminfoMethod: MethodDescriptor {
    public static let name = "meminfo"
    public struct Params: Sendable {
        public var target: Target
        public var cgroup: CgroupPath? = nil

        public init(target: Target = .proc, cgroup: CgroupPath? = nil) { (self.target, self.cgroup) = (target, cgroup) }
    }
    public static func decode(_ p: inout ParamReader) throws(RPCError) -> Params {
        Params(target: try Target.decode(&p), cgroup: try decodeCgroupParam(&p))
    }
}

/// `maps` — what /proc/PID/maps, `pmap` and smaps show.
public enum MapsMethod: MethodDescriptor {
    public static let name = "maps"
    public struct Params: Sendable {
        public var pid: Int32
        public var detail: Bool
        /// Every smaps line of each mapping as the kernel names it (``SmapsFields``: pmap -X, -XX).
        public var smaps: Bool = false
        public var target: Target
    }
    public static func decode(_ p: inout ParamReader) throws(RPCError) -> Params {
        guard let pid = try decodePID(&p) else { throw .invalidParams("pid", "required") }
        let detail = try p.bool("detail") ?? false
        let smaps = try p.bool("smaps") ?? false
        let target = try Target.decode(&p)
        // A simulated machine has figures, not a kernel's smaps file to copy.
        if smaps, target.source == .sim { throw .invalidParams("smaps", "only with source \"proc\"") }
        return Params(pid: pid, detail: detail, smaps: smaps, target: target)
    }

    /// The result, for /proc and for a simulated machine alike: one encoder for both.
    public struct Result: Sendable {
        public var source: Source
        public var pid: Int32
        public var command: String
        /// /proc/PID/cmdline, its arguments joined by spaces (as ps and pmap show it); empty for a
        /// kernel thread or a zombie.
        public var cmdline: String
        /// Virtual size in bytes (/proc/PID/stat's vsize).
        public var vsz: Int
        public var mappings: [Mapping]
        /// With `detail`: the process's sums (smaps_rollup, or the mappings added up).
        public var totals: SmapsDetail?
        /// With `smaps`: the keys of the mappings' `smaps` whose kernel line has no unit
        /// (`THPeligible`, `ProtectionKey`): numbers, where every other key is in bytes.
        public var smapsUnitless: [String]?

        public init(
            source: Source,
            pid: Int32,
            command: String,
            cmdline: String,
            vsz: Int,
            mappings: [Mapping],
            totals: SmapsDetail?,
            smapsUnitless: [String]? = nil
        ) {
            (self.source, self.pid, self.command, self.cmdline, self.vsz, self.mappings, self.totals) =
                (source, pid, command, cmdline, vsz, mappings, totals)
            self.smapsUnitless = smapsUnitless
        }

        /// Set when the result was written as it was read (``Writer``): its mappings are in this
        /// text only (`mappings` is empty), and `json` hands the text on as it is. Empty when the
        /// writer wrote into windows the server handed in (the server sends it from there).
        public internal(set) var text: [UInt8]?

        public var json: JSON {
            if let text { return .raw(text) }
            var writer = Writer(
                source: source,
                pid: pid,
                command: command,
                cmdline: cmdline,
                detail: totals != nil,
                smaps: smapsUnitless != nil
            )
            for mapping in mappings { writer.append(mapping) }
            return .raw(writer.finishText(vsz: vsz, totals: totals))
        }
    }
}

/// `pageStats` — what `sar -B` and `ps -eo vsz,rss,maj_flt,min_flt` show.
public enum PageStatsMethod: MethodDescriptor {
    public static let name = "pageStats"
    /// The longest sampling interval accepted: a minute, like a patient `sar`.
    public static let maxIntervalMs = 60_000
    public struct Params: Sendable {
        public var pid: Int32?
        public var all: Bool
        public var intervalMs: Int
        public var target: Target
        public var cgroup: CgroupPath? = nil

        public init(
            pid: Int32? = nil,
            all: Bool = false,
            intervalMs: Int = 0,
            target: Target = .proc,
            cgroup: CgroupPath? = nil
        ) {
            (self.pid, self.all, self.intervalMs, self.target, self.cgroup) = (pid, all, intervalMs, target, cgroup)
        }
    }
    public static func decode(_ p: inout ParamReader) throws(RPCError) -> Params {
        let pid = try decodePID(&p)
        let all = try p.bool("all") ?? false
        if pid != nil, all { throw .invalidParams("all", "give either pid or all, not both") }
        let interval = try p.int("intervalMs", min: 0, max: maxIntervalMs) ?? 0
        let cgroup = try decodeCgroupParam(&p)
        if cgroup != nil, !all { throw .invalidParams("cgroup", "only with all: true") }
        return Params(pid: pid, all: all, intervalMs: interval, target: try Target.decode(&p), cgroup: cgroup)
    }
}

/// `rpc.discover` — the OpenRPC document.
public enum DiscoverMethod: MethodDescriptor {
    public static let name = "rpc.discover"
    public static func decode(_ p: inout ParamReader) throws(RPCError) {}
}

/// `$/cancelRequest` — a notification: `{id}` of a call in flight.
public enum CancelRequestMethod {
    public static let name = "$/cancelRequest"

    /// The id of the call to cancel; nil when `params.id` is missing.
    public static func target(_ params: Request.Params) -> JSON? {
        guard case .byName(let members) = params else { return nil }
        return members["id"]
    }
}
