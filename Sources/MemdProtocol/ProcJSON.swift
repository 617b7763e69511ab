import JSONRPC
import ProcFS

/// How the /proc figures look on the wire: one place, shared by `maps`,
/// `meminfo`, `pageStats` and the experiments, for real and simulated machines.
extension Mapping {
    /// A `maps` mapping object; with `detail`, the smaps fields too. As a tree, from the one
    /// encoder (``JSONWriter/write(_:detail:)``), for results that embed a mapping or two.
    public func json(detail: Bool) -> JSON {
        var w = JSONWriter(capacity: detail ? 420 : 190)
        w.write(self, detail: detail)
        return (try? JSONParser.parse(w.bytes)) ?? .null  // the writer writes valid JSON
    }
}

extension Mapping {
    /// An array of `maps` mapping objects, written straight into JSON text: the
    /// same members as ``json(detail:)``, without a tree of 60,000 objects.
    public static func jsonArray(_ mappings: [Mapping], detail: Bool) -> JSON {
        var w = JSONWriter(capacity: mappings.count * (detail ? 420 : 190) + 2)
        w.append("[")
        for (index, m) in mappings.enumerated() {
            if index > 0 { w.append(",") }
            w.write(m, detail: detail)
        }
        w.append("]")
        return .raw(w.bytes)
    }
}

extension JSONWriter {
    /// One `maps` mapping object as JSON text: the members of ``Mapping/json(detail:)``.
    /// The fixed-width members go through a ``FixedWriter`` (no capacity check per member).
    public mutating func write(_ m: Mapping, detail: Bool) {
        writeFixed(maxBytes: 160) { w in
            w.append("{\"start\":")
            w.writeHex(m.start)
            w.append(",\"end\":")
            w.writeHex(m.end)
            w.append(",\"size\":")
            w.writeInt(Int(m.size))
            w.append(",\"perms\":")
        }
        writeString(m.perms)
        writeFixed(maxBytes: 64) { w in
            w.append(",\"offset\":")
            w.writeHex(m.offset)
            w.append(",\"device\":")
        }
        writeString(m.device)
        writeFixed(maxBytes: 64) { w in
            w.append(",\"inode\":")
            w.writeInt(Int(m.inode))
            w.append(",\"path\":")
        }
        if let path = m.path { writeString(path) } else { append("null") }
        writeFixed(maxBytes: 480) { w in
            w.append(",\"kind\":\"")
            switch m.kind {
            case .file: w.append(m.isDeleted ? "file\",\"deleted\":true" : "file\",\"deleted\":false")
            case .anon: w.append("anon\"")
            case .heap: w.append("heap\"")
            case .stack: w.append("stack\"")
            case .vdso: w.append("vdso\"")
            case .vvar: w.append("vvar\"")
            case .vsyscall: w.append("vsyscall\"")
            case .other: w.append("other\"")
            }
            if detail, let d = m.detail { w.write(d) }
            w.append("}")
        }
    }
}

extension FixedWriter {
    /// A mapping's smaps members, each after a comma (at most 11 × 36 bytes).
    mutating func write(_ d: SmapsDetail) {
        append(",\"rss\":")
        writeInt(d.rss)
        append(",\"pss\":")
        writeInt(d.pss)
        append(",\"sharedClean\":")
        writeInt(d.sharedClean)
        append(",\"sharedDirty\":")
        writeInt(d.sharedDirty)
        append(",\"privateClean\":")
        writeInt(d.privateClean)
        append(",\"privateDirty\":")
        writeInt(d.privateDirty)
        append(",\"referenced\":")
        writeInt(d.referenced)
        append(",\"anonymous\":")
        writeInt(d.anonymous)
        append(",\"swap\":")
        writeInt(d.swap)
        append(",\"locked\":")
        writeInt(d.locked)
        append(",\"anonHugePages\":")
        writeInt(d.anonHugePages)
    }
}

extension Meminfo {
    /// The `meminfo` result: free's figures, the `sar` block and `raw`.
    public func json(source: String) -> JSON { .object(jsonObject(source: source)) }

    /// The `meminfo` result's members (a `watch` sample leaves `raw` out; /proc adds `pressure`).
    public func jsonObject(source: String, raw includeRaw: Bool = true) -> JSONObject {
        let free = FreeFigures(self)
        let sar = SarMemory(self)
        var raw = JSONObject()
        raw.members = entries.map { (key: $0.key, value: .int($0.value)) }
        var result: JSONObject = [
            "source": .string(source),
            "total": .int(free.total), "used": .int(free.used), "free": .int(free.free),
            "shared": .int(free.shared), "buffers": .int(free.buffers), "cache": .int(free.cache),
            "buffCache": .int(free.buffCache), "available": .int(free.available),
            "swapTotal": .int(free.swapTotal), "swapUsed": .int(free.swapUsed), "swapFree": .int(free.swapFree),
            "sar": [
                "memFree": .int(sar.memFree), "available": .int(sar.available), "memUsed": .int(sar.memUsed),
                "memUsedPercent": .double(sar.memUsedPercent), "buffers": .int(sar.buffers),
                "cached": .int(sar.cached), "commit": .int(sar.commit), "commitPercent": .double(sar.commitPercent),
                "active": .int(sar.active), "inactive": .int(sar.inactive), "dirty": .int(sar.dirty),
                "shmem": .int(sar.shmem), "anonPages": .int(sar.anonPages), "slab": .int(sar.slab),
                "kernelStack": .int(sar.kernelStack), "pageTables": .int(sar.pageTables),
                "vmallocUsed": .int(sar.vmallocUsed),
            ],
        ]
        if includeRaw { result["raw"] = .object(raw) }
        return result
    }
}

extension Pressure {
    /// `meminfo.pressure` and a `watch` sample's `pressure`: /proc/pressure/memory's two lines,
    /// averages as the kernel prints them (percent), `totalUs` its `total=` (microseconds).
    public var json: JSON {
        func stall(_ s: Stall) -> JSON {
            [
                "avg10": .double(s.avg10), "avg60": .double(s.avg60), "avg300": .double(s.avg300),
                "totalUs": .int(s.totalMicroseconds),
            ]
        }
        return ["some": stall(some), "full": full.map(stall) ?? .null]
    }
}

extension PagingCounters {
    public func json(raw: Vmstat) -> JSON {
        var rawObject = JSONObject()
        rawObject.members = raw.entries.map { (key: $0.key, value: .int($0.value)) }
        return [
            "pgpgin": .int(pgpgin), "pgpgout": .int(pgpgout), "pgfault": .int(pgfault),
            "pgmajfault": .int(pgmajfault), "pgfree": .int(pgfree), "pgscanKswapd": .int(pgscanKswapd),
            "pgscanDirect": .int(pgscanDirect), "pgsteal": .int(pgsteal), "raw": .object(rawObject),
        ]
    }
}

extension PagingRates {
    public var json: JSON {
        [
            "pgpginPerSec": .double(pgpginPerSec), "pgpgoutPerSec": .double(pgpgoutPerSec),
            "faultPerSec": .double(faultPerSec), "majfltPerSec": .double(majfltPerSec),
            "pgfreePerSec": .double(pgfreePerSec), "pgscankPerSec": .double(pgscankPerSec),
            "pgscandPerSec": .double(pgscandPerSec), "pgstealPerSec": .double(pgstealPerSec),
            "vmeffPercent": .double(vmeffPercent),
        ]
    }
}

extension PageStatsMethod {
    /// One process's `pageStats` row: what `ps -o pid,vsz,rss,maj_flt,min_flt` shows, sizes in
    /// bytes; for /proc and a simulated machine alike (one encoder for both).
    public struct ProcessRow: Sendable {
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

        public var json: JSONObject {
            [
                "pid": .int(pid), "command": .string(command), "vsz": .int(vsz),
                "rss": .int(rss), "minflt": .int(minflt), "majflt": .int(majflt),
            ]
        }

        /// The result of `pageStats` with `pid`: source and scope first, the row; after an
        /// interval, the fault rates since `first`, over `seconds`.
        public func result(
            source: Source,
            since first: ProcessRow? = nil,
            intervalMs: Int = 0,
            seconds: Double = 1
        )
            -> JSON
        {
            var object: JSONObject = ["source": .string(source.rawValue), "scope": "process"]
            object.members += json.members
            if let first {
                object["intervalMs"] = .int(intervalMs)
                object["minfltPerSec"] = .double(Double(minflt - first.minflt) / seconds)
                object["majfltPerSec"] = .double(Double(majflt - first.majflt) / seconds)
            }
            return .object(object)
        }
    }
}

extension ProcessStat {
    /// This process's `pageStats` row (`rss` from /proc/PID/status or statm, as ps takes it).
    public func row(rss: Int) -> PageStatsMethod.ProcessRow {
        .init(pid: Int(pid), command: comm, vsz: vsize, rss: rss, minflt: minflt, majflt: majflt)
    }
}
