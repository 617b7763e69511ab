import JSONRPC

extension WatchMethod {
    /// Why a watch ended.
    public enum EndedBy: String, Sendable, CaseIterable {
        case stop, count, duration, untilExit
    }

    /// The `watch` result, its summary: samples sent and skipped, how it ended, the peaks.
    public struct Result: WireValue {
        public var samples: Int
        public var skipped: Int
        public var durationMs: Int
        public var endedBy: EndedBy
        public var peaks: Peaks
        public var oomKills: Int
        /// Descendants not followed (the watch's limit on processes).
        public var untracked: Int

        public init(
            samples: Int,
            skipped: Int,
            durationMs: Int,
            endedBy: EndedBy,
            peaks: Peaks,
            oomKills: Int,
            untracked: Int
        ) {
            (self.samples, self.skipped, self.durationMs, self.endedBy) = (samples, skipped, durationMs, endedBy)
            (self.peaks, self.oomKills, self.untracked) = (peaks, oomKills, untracked)
        }

        public var json: JSON {
            [
                "samples": .int(samples), "skipped": .int(skipped), "durationMs": .int(durationMs),
                "endedBy": .string(endedBy.rawValue), "peaks": peaks.json, "oomKills": .int(oomKills),
                "untracked": .int(untracked),
            ]
        }

        public init(json: JSON) throws(WireDecodingError) {
            let r = try WireReader(json)
            self.init(
                samples: try r.int("samples"),
                skipped: try r.int("skipped"),
                durationMs: try r.int("durationMs"),
                endedBy: try r.choice("endedBy"),
                peaks: try Peaks(try r.nested("peaks")),
                oomKills: try r.int("oomKills"),
                untracked: try r.int("untracked")
            )
        }
    }

    /// The system's and the followed tree's peaks; null where nothing was sampled.
    public struct Peaks: Sendable {
        public var systemUsed: Int?
        public var availableMin: Int?
        public var pressureSomeAvg10Max: Double?
        public var processes: [ProcessPeaks]
        public var treeRssMax: Int?
        /// With `pss`: `.some(nil)` is `null`; nil: no member.
        public var treePssMax: Int??

        public init(
            systemUsed: Int?,
            availableMin: Int?,
            pressureSomeAvg10Max: Double?,
            processes: [ProcessPeaks],
            treeRssMax: Int?,
            treePssMax: Int??
        ) {
            (self.systemUsed, self.availableMin, self.pressureSomeAvg10Max) =
                (systemUsed, availableMin, pressureSomeAvg10Max)
            (self.processes, self.treeRssMax, self.treePssMax) = (processes, treeRssMax, treePssMax)
        }

        var json: JSON {
            var o: JSONObject = [
                "systemUsed": .from(systemUsed, JSON.int), "availableMin": .from(availableMin, JSON.int),
                "pressureSomeAvg10Max": .from(pressureSomeAvg10Max, JSON.double),
                "processes": .array(processes.map(\.json)), "treeRssMax": .from(treeRssMax, JSON.int),
            ]
            if let treePssMax { o["treePssMax"] = .from(treePssMax, JSON.int) }
            return .object(o)
        }

        init(_ r: WireReader) throws(WireDecodingError) {
            self.init(
                systemUsed: try r.optionalInt("systemUsed"),
                availableMin: try r.optionalInt("availableMin"),
                pressureSomeAvg10Max: try r.optionalDouble("pressureSomeAvg10Max"),
                processes: try r.decodeArray("processes"),
                treeRssMax: try r.optionalInt("treeRssMax"),
                treePssMax: r.contains("treePssMax") ? .some(try r.optionalInt("treePssMax")) : nil
            )
        }
    }

    /// One followed process's peaks and fault counts over the watch.
    public struct ProcessPeaks: WireValue {
        public var pid, ppid: Int
        public var command: String
        public var rssMax, rssMaxAtMs, vszMax, minflt, majflt: Int
        public var exitedAtMs: Int?
        /// With `pss`: the largest pss and swap read (null when never read); nil: no members.
        public var pss: (pssMax: Int?, swapMax: Int?)?

        public init(
            pid: Int,
            ppid: Int,
            command: String,
            rssMax: Int,
            rssMaxAtMs: Int,
            vszMax: Int,
            minflt: Int,
            majflt: Int,
            exitedAtMs: Int?,
            pss: (pssMax: Int?, swapMax: Int?)?
        ) {
            (self.pid, self.ppid, self.command, self.rssMax, self.rssMaxAtMs) = (pid, ppid, command, rssMax, rssMaxAtMs)
            (self.vszMax, self.minflt, self.majflt, self.exitedAtMs, self.pss) =
                (vszMax, minflt, majflt, exitedAtMs, pss)
        }

        public var json: JSON {
            var o: JSONObject = [
                "pid": .int(pid), "ppid": .int(ppid), "command": .string(command), "rssMax": .int(rssMax),
                "rssMaxAtMs": .int(rssMaxAtMs), "vszMax": .int(vszMax), "minflt": .int(minflt),
                "majflt": .int(majflt), "exitedAtMs": .from(exitedAtMs, JSON.int),
            ]
            if let pss {
                o["pssMax"] = .from(pss.pssMax, JSON.int)
                o["swapMax"] = .from(pss.swapMax, JSON.int)
            }
            return .object(o)
        }

        public init(json: JSON) throws(WireDecodingError) {
            let r = try WireReader(json, path: "process")
            self.init(
                pid: try r.int("pid"),
                ppid: try r.int("ppid"),
                command: try r.string("command"),
                rssMax: try r.int("rssMax"),
                rssMaxAtMs: try r.int("rssMaxAtMs"),
                vszMax: try r.int("vszMax"),
                minflt: try r.int("minflt"),
                majflt: try r.int("majflt"),
                exitedAtMs: try r.optionalInt("exitedAtMs"),
                pss: r.contains("pssMax") ? (try r.optionalInt("pssMax"), try r.optionalInt("swapMax")) : nil
            )
        }
    }
}

extension WatchStopMethod {
    /// Whether a running watch of this client with that id was stopped.
    public struct Result: WireValue {
        public var stopped: Bool

        public init(stopped: Bool) { self.stopped = stopped }

        public var json: JSON { ["stopped": .bool(stopped)] }

        public init(json: JSON) throws(WireDecodingError) { stopped = try WireReader(json).bool("stopped") }
    }
}

extension WatchMethod: ClientMethod {
    public static func encode(_ p: Params) -> JSONObject {
        var o: JSONObject = ["intervalMs": .int(p.intervalMs)]
        if !p.system { o["system"] = false }
        if !p.pids.isEmpty { o["pids"] = .array(p.pids.map { .int(Int($0)) }) }
        if p.children { o["children"] = true }
        if p.pss { o["pss"] = true }
        o.set("count", p.count) { .int($0) }
        o.set("durationMs", p.durationMs) { .int($0) }
        if p.untilExit { o["untilExit"] = true }
        return o
    }
}

extension WatchStopMethod: ClientMethod {
    public static func encode(_ p: Params) -> JSONObject { ["id": p.id] }
}
