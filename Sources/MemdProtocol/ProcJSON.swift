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
    public mutating func write(_ m: Mapping, detail: Bool, smaps: Bool = false) {
        var (perms, device) = (m.perms, m.device)
        perms.withUTF8 { perms in
            device.withUTF8 { device in
                let members = MappingMembers(
                    start: m.start,
                    end: m.end,
                    perms: perms,
                    offset: m.offset,
                    device: device,
                    inode: m.inode,
                    path: nil,
                    kind: m.kind,
                    isDeleted: m.isDeleted,
                    detail: detail ? m.detail : nil
                )
                guard var path = m.path else { return write(members, closed: !smaps) }
                path.withUTF8 { path in
                    var members = members
                    members.path = path
                    write(members, closed: !smaps)
                }
            }
        }
        if smaps { write(m.smaps ?? SmapsFields()) }
    }

    /// One `maps` mapping object from its kernel line where it lies, after a comma when `comma`:
    /// the text ``write(_:detail:smaps:)`` writes for the line's ``Mapping``, when the line
    /// ``MapsLine/isPlain`` (its bytes are then the Mapping's Strings).
    public mutating func write(_ line: MapsLine, detail: SmapsDetail?, comma: Bool) {
        let members = MappingMembers(
            start: line.start,
            end: line.end,
            perms: line.perms,
            offset: line.offset,
            device: line.device,
            inode: line.inode,
            path: line.name,
            kind: line.kind,
            isDeleted: line.isDeleted,
            detail: detail
        )
        write(members, closed: true, comma: comma)
    }

    /// The members of one mapping object, the one place they are written.
    mutating func write(_ m: MappingMembers, closed: Bool, comma: Bool = false) {
        writeFixed(maxBytes: m.maxBytes) { w in
            if comma { w.append(",") }
            w.append("{\"start\":")
            w.writeHex(m.start)
            w.append(",\"end\":")
            w.writeHex(m.end)
            w.append(",\"size\":")
            w.writeInt(Int(m.end - m.start))
            w.append(",\"perms\":")
            w.writeString(utf8: m.perms)
            w.append(",\"offset\":")
            w.writeHex(m.offset)
            w.append(",\"device\":")
            w.writeString(utf8: m.device)
            w.append(",\"inode\":")
            w.writeInt(Int(m.inode))
            w.append(",\"path\":")
            if let path = m.path { w.writeString(utf8: path) } else { w.append("null") }
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
            if let d = m.detail { w.write(d) }
            if closed { w.append("}") }
        }
    }
}

/// What one mapping object says, its text fields as UTF-8 (a ``Mapping``'s Strings or a
/// ``MapsLine``'s bytes where they lie).
struct MappingMembers {
    var start: UInt64
    var end: UInt64
    var perms: UnsafeBufferPointer<UInt8>
    var offset: UInt64
    var device: UnsafeBufferPointer<UInt8>
    var inode: UInt64
    var path: UnsafeBufferPointer<UInt8>?
    var kind: MappingKind
    var isDeleted: Bool
    var detail: SmapsDetail?

    /// The most bytes the object takes: at most 240 for its punctuation, keys, numbers and kind,
    /// 11 × 36 for the smaps figures, and its text fields, each escaped at worst.
    var maxBytes: Int {
        240 + 11 * 36 + FixedWriter.maxStringBytes(utf8Count: perms.count)
            + FixedWriter.maxStringBytes(utf8Count: device.count)
            + FixedWriter.maxStringBytes(utf8Count: path?.count ?? 0)
    }
}

extension JSONWriter {
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
