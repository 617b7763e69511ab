import JSONRPC
import ProcFS

/// `workingSet` — what a process really uses: its referenced bits (or soft-dirty bits) cleared
/// through /proc/PID/clear_refs, an interval given to it, then the pages it touched (or wrote)
/// counted; `count` intervals one after another, each sample also sent as `workingSet.sample`.
public enum WorkingSetMethod: MethodDescriptor {
    public static let name = "workingSet"
    /// The notification carrying each sample as it is taken.
    public static let sampleNotification = "workingSet.sample"
    public static let minIntervalMs = 10
    public static let maxIntervalMs = 600_000
    public static let defaultIntervalMs = 1_000
    public static let maxCount = 3_600

    public struct Params: Sendable {
        public var pid: Int32
        public var intervalMs: Int
        public var count: Int
        public var kind: WorkingSetKind
        public var mappings: Bool

        public init(
            pid: Int32,
            intervalMs: Int = WorkingSetMethod.defaultIntervalMs,
            count: Int = 1,
            kind: WorkingSetKind = .referenced,
            mappings: Bool = false
        ) {
            (self.pid, self.intervalMs, self.count, self.kind, self.mappings) = (pid, intervalMs, count, kind, mappings)
        }
    }

    public static func decode(_ p: inout ParamReader) throws(RPCError) -> Params {
        guard let pid = try decodePID(&p) else { throw .invalidParams("pid", "required") }
        return Params(
            pid: pid,
            intervalMs: try p.int("intervalMs", min: minIntervalMs, max: maxIntervalMs) ?? defaultIntervalMs,
            count: try p.int("count", min: 1, max: maxCount) ?? 1,
            kind: try p.choice("kind", as: WorkingSetKind.self) ?? .referenced,
            mappings: try p.bool("mappings") ?? false
        )
    }
}

/// `workingSet.stop` — ends a running `workingSet` of this client normally: its response holds the
/// samples so far with `endedBy: "stop"`; this call answers `{stopped}`.
public enum WorkingSetStopMethod: MethodDescriptor {
    public static let name = "workingSet.stop"
    public typealias Params = WatchStopMethod.Params
    public typealias Result = WatchStopMethod.Result

    public static func decode(_ p: inout ParamReader) throws(RPCError) -> Params { try WatchStopMethod.decode(&p) }
}

/// `pageFlags` — what each present page of a process is to the kernel (/proc/kpageflags and
/// /proc/kpagecount), counted like `page-types -p PID`.
public enum PageFlagsMethod: MethodDescriptor {
    public static let name = "pageFlags"

    public struct Params: Sendable {
        public var pid: Int32
        /// Only pages in [start, end).
        public var start: UInt64?
        public var end: UInt64?
        public var mappings: Bool

        public init(pid: Int32, start: UInt64? = nil, end: UInt64? = nil, mappings: Bool = false) {
            (self.pid, self.start, self.end, self.mappings) = (pid, start, end, mappings)
        }

        /// The range asked for; nil for every page.
        public var range: Range<UInt64>? {
            guard start != nil || end != nil else { return nil }
            return (start ?? 0)..<(end ?? .max)
        }
    }

    public static func decode(_ p: inout ParamReader) throws(RPCError) -> Params {
        guard let pid = try decodePID(&p) else { throw .invalidParams("pid", "required") }
        let start = try p.address("start")
        let end = try p.address("end")
        if let start, let end, start >= end { throw .invalidParams("end", "must be above start") }
        return Params(pid: pid, start: start, end: end, mappings: try p.bool("mappings") ?? false)
    }
}

extension WorkingSetMethod: ClientMethod {
    public static func encode(_ p: Params) -> JSONObject {
        var o: JSONObject = ["pid": .int(Int(p.pid))]
        if p.intervalMs != defaultIntervalMs { o["intervalMs"] = .int(p.intervalMs) }
        if p.count != 1 { o["count"] = .int(p.count) }
        if p.kind != .referenced { o["kind"] = .string(p.kind.rawValue) }
        if p.mappings { o["mappings"] = true }
        return o
    }
}

extension WorkingSetStopMethod: ClientMethod {
    public static func encode(_ p: Params) -> JSONObject { ["id": p.id] }
}

extension PageFlagsMethod: ClientMethod {
    public static func encode(_ p: Params) -> JSONObject {
        var o: JSONObject = ["pid": .int(Int(p.pid))]
        o.set("start", p.start) { .hex($0) }
        o.set("end", p.end) { .hex($0) }
        if p.mappings { o["mappings"] = true }
        return o
    }
}
