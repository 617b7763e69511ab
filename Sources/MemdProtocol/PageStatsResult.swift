import JSONRPC
import ProcFS

extension PageStatsMethod {
    /// The `pageStats` result, for /proc and a simulated machine alike: one shape per `scope`.
    public enum Result: WireValue {
        /// No `pid`, no `all`: /proc/vmstat's paging counters (and rates after an interval).
        case system(System)
        /// `pid`: that process's `ps` row (and fault rates after an interval).
        case process(Process)
        /// `all`: every process the caller may see.
        case processes(source: Source, [ProcessRow])

        public var json: JSON {
            switch self {
            case .system(let system): return system.json
            case .process(let process): return process.json
            case .processes(let source, let rows):
                return [
                    "source": .string(source.rawValue), "scope": "processes",
                    "processes": .array(rows.map(\.json)),
                ]
            }
        }

        public init(json: JSON) throws(WireDecodingError) {
            let r = try WireReader(json)
            switch try r.string("scope") {
            case "system": self = .system(try System(r))
            case "process": self = .process(try Process(r))
            case "processes": self = .processes(source: try r.choice("source"), try r.decodeArray("processes"))
            case let scope: throw WireDecodingError(path: "result.scope", "unexpected scope \"\(scope)\"")
            }
        }
    }

    /// `scope: "system"`: sar -B's counters, and with an interval its rates.
    public struct System: Sendable {
        public var source: Source
        public var counters: PagingCounters
        /// A simulated machine's OOM kills (`counters.oomKill`); nil for /proc (no member).
        public var oomKills: Int?
        /// Every /proc/vmstat key, known or not (`counters.raw`).
        public var raw: [(key: String, value: Int)]
        /// With `intervalMs > 0`: the interval and the rates over it.
        public var interval: (ms: Int, rates: PagingRates)?

        public init(
            source: Source,
            counters: PagingCounters,
            oomKills: Int? = nil,
            raw: Vmstat,
            interval: (ms: Int, rates: PagingRates)? = nil
        ) {
            (self.source, self.counters, self.oomKills, self.raw, self.interval) =
                (source, counters, oomKills, raw.entries, interval)
        }

        public var json: JSON {
            let c = counters
            var countersObject: JSONObject = [
                "pgpgin": .int(c.pgpgin), "pgpgout": .int(c.pgpgout), "pgfault": .int(c.pgfault),
                "pgmajfault": .int(c.pgmajfault), "pgfree": .int(c.pgfree), "pgscanKswapd": .int(c.pgscanKswapd),
                "pgscanDirect": .int(c.pgscanDirect), "pgsteal": .int(c.pgsteal),
            ]
            if let oomKills { countersObject["oomKill"] = .int(oomKills) }
            countersObject["raw"] = .object(JSONObject(ints: raw))
            var object: JSONObject = ["source": .string(source.rawValue), "scope": "system"]
            if let interval { object["intervalMs"] = .int(interval.ms) }
            object["counters"] = .object(countersObject)
            if let interval { object["rates"] = interval.rates.json }
            return .object(object)
        }

        init(_ r: WireReader) throws(WireDecodingError) {
            source = try r.choice("source")
            let c = try r.nested("counters")
            counters = PagingCounters(Vmstat(entries: []))
            counters.pgpgin = try c.int("pgpgin")
            counters.pgpgout = try c.int("pgpgout")
            counters.pgfault = try c.int("pgfault")
            counters.pgmajfault = try c.int("pgmajfault")
            counters.pgfree = try c.int("pgfree")
            counters.pgscanKswapd = try c.int("pgscanKswapd")
            counters.pgscanDirect = try c.int("pgscanDirect")
            counters.pgsteal = try c.int("pgsteal")
            oomKills = try c.optionalInt("oomKill")
            raw = try c.intPairs("raw")
            if let ms = try r.optionalInt("intervalMs") {
                interval = (ms, try r.decode("rates", as: PagingRates.self))
            }
        }
    }

    /// `scope: "process"`: one `ps` row, and with an interval its fault rates.
    public struct Process: Sendable {
        public var source: Source
        public var row: ProcessRow
        /// With `intervalMs > 0`: the interval and the fault rates over it.
        public var interval: (ms: Int, minfltPerSec: Double, majfltPerSec: Double)?

        /// The row now; after an interval, the fault rates since `first`, over `seconds`.
        public init(
            source: Source,
            row: ProcessRow,
            since first: ProcessRow? = nil,
            intervalMs: Int = 0,
            seconds: Double = 1
        ) {
            self.source = source
            self.row = row
            if let first {
                interval = (
                    intervalMs, Double(row.minflt - first.minflt) / seconds, Double(row.majflt - first.majflt) / seconds
                )
            }
        }

        public var json: JSON {
            var object: JSONObject = ["source": .string(source.rawValue), "scope": "process"]
            object.members += row.jsonObject.members
            if let interval {
                object["intervalMs"] = .int(interval.ms)
                object["minfltPerSec"] = .double(interval.minfltPerSec)
                object["majfltPerSec"] = .double(interval.majfltPerSec)
            }
            return .object(object)
        }

        init(_ r: WireReader) throws(WireDecodingError) {
            source = try r.choice("source")
            row = try ProcessRow(r)
            if let ms = try r.optionalInt("intervalMs") {
                interval = (ms, try r.double("minfltPerSec"), try r.double("majfltPerSec"))
            }
        }
    }

    /// One process's `pageStats` row: what `ps -o pid,vsz,rss,maj_flt,min_flt` shows, sizes in
    /// bytes; for /proc and a simulated machine alike (one encoder for both).
    public struct ProcessRow: WireValue {
        public var pid: Int
        public var command: String
        public var vsz: Int
        public var rss: Int
        public var minflt: Int
        public var majflt: Int

        public init(pid: Int, command: String, vsz: Int, rss: Int, minflt: Int, majflt: Int) {
            (self.pid, self.command, self.vsz, self.rss, self.minflt, self.majflt) =
                (pid, command, vsz, rss, minflt, majflt)
        }

        public var jsonObject: JSONObject {
            [
                "pid": .int(pid), "command": .string(command), "vsz": .int(vsz),
                "rss": .int(rss), "minflt": .int(minflt), "majflt": .int(majflt),
            ]
        }

        public var json: JSON { .object(jsonObject) }

        init(_ r: WireReader) throws(WireDecodingError) {
            self.init(
                pid: try r.int("pid"),
                command: try r.string("command"),
                vsz: try r.int("vsz"),
                rss: try r.int("rss"),
                minflt: try r.int("minflt"),
                majflt: try r.int("majflt")
            )
        }

        public init(json: JSON) throws(WireDecodingError) { try self.init(try WireReader(json, path: "row")) }
    }
}

extension ProcessStat {
    /// This process's `pageStats` row (`rss` from /proc/PID/status or statm, as ps takes it).
    public func row(rss: Int) -> PageStatsMethod.ProcessRow {
        .init(pid: Int(pid), command: comm, vsz: vsize, rss: rss, minflt: minflt, majflt: majflt)
    }
}
