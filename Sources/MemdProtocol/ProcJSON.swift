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
    /// One `maps` mapping object as JSON text: the members of ``Mapping/json(detail:)``; with
    /// `smaps`, every smaps line too (`smaps`, `vmFlags`).
    /// The fixed-width members go through a ``FixedWriter`` (no capacity check per member).
    public mutating func write(_ m: Mapping, detail: Bool, smaps: Bool = false) {
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
            if !smaps { w.append("}") }
        }
        if smaps { write(m.smaps ?? SmapsFields()) }
    }

    /// A mapping's `smaps` (every `Key: N kB` in bytes, `Key: N` as N, in the kernel's order) and
    /// `vmFlags`, after a comma; closes the mapping.
    mutating func write(_ fields: SmapsFields) {
        append(",\"smaps\":{")
        for (index, field) in fields.fields.enumerated() {
            if index > 0 { append(",") }
            writeString(field.key)
            append(":")
            writeInt(field.value)
        }
        append("}")
        if let flags = fields.vmFlags {
            append(",\"vmFlags\":[")
            for (index, flag) in flags.enumerated() {
                if index > 0 { append(",") }
                writeString(flag)
            }
            append("]")
        }
        append("}")
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

extension Pressure: WireValue {
    public init(json: JSON) throws(WireDecodingError) {
        func stall(_ r: WireReader) throws(WireDecodingError) -> Stall {
            Stall(
                avg10: try r.double("avg10"),
                avg60: try r.double("avg60"),
                avg300: try r.double("avg300"),
                totalMicroseconds: try r.int("totalUs")
            )
        }
        let r = try WireReader(json, path: "pressure")
        let full = r.optional("full") == nil ? nil : try stall(try r.nested("full"))
        self.init(some: try stall(try r.nested("some")), full: full)
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

extension PagingRates: WireValue {
    public init(json: JSON) throws(WireDecodingError) {
        let r = try WireReader(json, path: "rates")
        self.init(from: PagingCounters(Vmstat(entries: [])), to: PagingCounters(Vmstat(entries: [])), seconds: 1)
        pgpginPerSec = try r.double("pgpginPerSec")
        pgpgoutPerSec = try r.double("pgpgoutPerSec")
        faultPerSec = try r.double("faultPerSec")
        majfltPerSec = try r.double("majfltPerSec")
        pgfreePerSec = try r.double("pgfreePerSec")
        pgscankPerSec = try r.double("pgscankPerSec")
        pgscandPerSec = try r.double("pgscandPerSec")
        pgstealPerSec = try r.double("pgstealPerSec")
        vmeffPercent = try r.double("vmeffPercent")
    }
}
