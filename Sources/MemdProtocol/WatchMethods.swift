import JSONRPC

/// `watch` — memory over time: a `watch.sample` notification per interval (the system's figures,
/// pressure, followed processes and their descendants, events), then a summary with the peaks
/// when it ends (`count`, `durationMs`, `untilExit`, `watch.stop`).
public enum WatchMethod: MethodDescriptor {
    public static let name = "watch"
    /// The notification carrying each sample.
    public static let sampleNotification = "watch.sample"
    public static let minIntervalMs = 100
    public static let maxIntervalMs = 60_000
    public static let defaultIntervalMs = 1_000
    /// Most pids one watch may name.
    public static let maxPIDs = 1_024
    /// The longest `durationMs`: 30 days (a bound, so deadlines never overflow).
    public static let maxDurationMs = 30 * 24 * 3_600_000
    /// The largest `count` (30 days of the shortest interval).
    public static let maxCount = maxDurationMs / minIntervalMs

    public struct Params: Sendable {
        public var intervalMs: Int
        public var system: Bool
        /// The processes to follow, as given (duplicates removed), in order.
        public var pids: [Int32]
        public var children: Bool
        public var pss: Bool
        public var count: Int?
        public var durationMs: Int?
        public var untilExit: Bool

        public init(
            intervalMs: Int = WatchMethod.defaultIntervalMs,
            system: Bool = true,
            pids: [Int32] = [],
            children: Bool = false,
            pss: Bool = false,
            count: Int? = nil,
            durationMs: Int? = nil,
            untilExit: Bool = false
        ) {
            (self.intervalMs, self.system, self.pids, self.children) = (intervalMs, system, pids, children)
            (self.pss, self.count, self.durationMs, self.untilExit) = (pss, count, durationMs, untilExit)
        }
    }

    public static func decode(_ p: inout ParamReader) throws(RPCError) -> Params {
        let interval = try p.int("intervalMs", min: minIntervalMs, max: maxIntervalMs) ?? defaultIntervalMs
        let system = try p.bool("system") ?? true
        var pids: [Int32] = []
        if let list = try p.array("pids") {
            guard list.count <= maxPIDs else {
                throw .invalidParams("pids", "at most \(maxPIDs) pids, got \(list.count)")
            }
            for (index, value) in list.enumerated() {
                guard let pid = PID.checked(value) else {
                    let shown = value.intValue.map { String($0) } ?? value.typeName
                    throw .invalidParams("pids", "pids[\(index)] must be a pid (1…\(Int32.max)), not \(shown)")
                }
                if !pids.contains(pid) { pids.append(pid) }
            }
        }
        let children = try p.bool("children") ?? false
        let pss = try p.bool("pss") ?? false
        let count = try p.int("count", min: 1, max: maxCount)
        let duration = try p.int("durationMs", min: 1, max: maxDurationMs)
        let untilExit = try p.bool("untilExit") ?? false
        for (flag, name) in [(children, "children"), (pss, "pss"), (untilExit, "untilExit")] where flag && pids.isEmpty
        {
            throw .invalidParams(name, "needs pids: the processes to follow")
        }
        return Params(
            intervalMs: interval,
            system: system,
            pids: pids,
            children: children,
            pss: pss,
            count: count,
            durationMs: duration,
            untilExit: untilExit
        )
    }
}

/// `watch.stop` — ends a running watch of this client normally: its response is the summary
/// with `endedBy: "stop"`; this call answers `{stopped}`.
public enum WatchStopMethod: MethodDescriptor {
    public static let name = "watch.stop"

    public struct Params: Sendable {
        /// The request id of the watch, as the client sent it.
        public var id: JSON

        public init(id: JSON) { self.id = id }
    }

    public static func decode(_ p: inout ParamReader) throws(RPCError) -> Params {
        // `id` may be null (a request id may be); so look at the member itself.
        guard let id = p.object["id"] else { throw .invalidParams("id", "required: the id of the watch request") }
        _ = p.value("id")
        switch id {
        case .string, .int, .double, .raw, .null: return Params(id: id)
        default: throw .invalidParams("id", "must be a string, number or null (a request id), not \(id.typeName)")
        }
    }
}
