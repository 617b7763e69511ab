import JSONRPC
import ProcFS

extension CgroupsMethod {
    /// The `cgroups` result: the hierarchy's version and root, and the groups in tree order.
    public struct Result: WireValue {
        public var version: Int
        public var root: String
        public var groups: [Group]

        public init(version: Int, root: String, groups: [Group]) {
            (self.version, self.root, self.groups) = (version, root, groups)
        }

        public var json: JSON {
            ["version": .int(version), "root": .string(root), "groups": .array(groups.map(\.json))]
        }

        public init(json: JSON) throws(WireDecodingError) {
            let r = try WireReader(json)
            self.init(version: try r.int("version"), root: try r.string("root"), groups: try r.decodeArray("groups"))
        }
    }

    /// One memory cgroup (a `cgroups` entry, and `meminfo`'s `cgroup`): bytes, null where the
    /// kernel has no figure or no limit.
    public struct Group: WireValue {
        public var path: String
        public var current, max, high, peak, swapCurrent, workingSet: Int?
        public var events: Events?
        public var pressure: Pressure?
        public var processes: Int?
        /// memory.stat, every key in order (`stat: true`); nil: no member.
        public var stat: [(key: String, value: Int)]?

        public init(_ m: CgroupMemory) {
            path = m.path.description
            (current, max, high, peak, swapCurrent, workingSet) =
                (m.current, m.max, m.high, m.peak, m.swapCurrent, m.workingSet)
            (pressure, processes, stat) = (m.pressure, m.processes, m.stat)
            events = m.events.map {
                Events(low: $0.low, high: $0.high, max: $0.max, oom: $0.oom, oomKill: $0.oomKill, underOom: $0.underOom)
            }
        }

        /// memory.events (v2) or what v1 has of it (`oom_control`'s counts).
        public struct Events: Sendable {
            public var low, high, max, oom, oomKill: Int?
            public var underOom: Bool?
        }

        public var json: JSON {
            func int(_ value: Int?) -> JSON { value.map(JSON.int) ?? .null }
            var object: JSONObject = [
                "path": .string(path), "current": int(current), "max": int(max), "high": int(high),
                "peak": int(peak), "swapCurrent": int(swapCurrent), "workingSet": int(workingSet),
            ]
            if let events {
                object["events"] = [
                    "low": int(events.low), "high": int(events.high), "max": int(events.max),
                    "oom": int(events.oom), "oomKill": int(events.oomKill),
                    "underOom": events.underOom.map(JSON.bool) ?? .null,
                ]
            } else {
                object["events"] = .null
            }
            object["pressure"] = pressure?.json ?? .null  // the same encoder as meminfo's pressure
            object["processes"] = int(processes)
            if let stat { object["stat"] = .object(JSONObject(ints: stat)) }
            return .object(object)
        }

        public init(json: JSON) throws(WireDecodingError) {
            let r = try WireReader(json, path: "group")
            path = try r.string("path")
            current = try r.optionalInt("current")
            max = try r.optionalInt("max")
            high = try r.optionalInt("high")
            peak = try r.optionalInt("peak")
            swapCurrent = try r.optionalInt("swapCurrent")
            workingSet = try r.optionalInt("workingSet")
            if r.optional("events") != nil {
                let e = try r.nested("events")
                events = Events(
                    low: try e.optionalInt("low"),
                    high: try e.optionalInt("high"),
                    max: try e.optionalInt("max"),
                    oom: try e.optionalInt("oom"),
                    oomKill: try e.optionalInt("oomKill"),
                    underOom: try e.optionalBool("underOom")
                )
            }
            pressure = try r.decodeOptional("pressure")
            processes = try r.optionalInt("processes")
            stat = r.contains("stat") ? try r.intPairs("stat") : nil
        }
    }
}
