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
        m.withMembers(detail: detail) { members in
            let fields = smaps ? m.smaps ?? SmapsFields() : nil
            writeFixed(maxBytes: members.maxBytes + (fields?.maxJSONBytes ?? 0)) { w in
                w.write(members, fields: fields)
            }
        }
    }
}

extension Mapping {
    /// Its members, its Strings as UTF-8, for `body`; its smaps figures with `detail`.
    func withMembers<T>(detail: Bool, _ body: (MappingMembers) -> T) -> T {
        var (perms, device) = (self.perms, self.device)
        return perms.withUTF8 { perms in
            device.withUTF8 { device in
                var members = MappingMembers(
                    start: start,
                    end: end,
                    perms: perms,
                    offset: offset,
                    device: device,
                    inode: inode,
                    path: nil,
                    kind: kind,
                    isDeleted: isDeleted,
                    detail: detail ? self.detail : nil
                )
                guard var path else { return body(members) }
                return path.withUTF8 { path in
                    members.path = path
                    return body(members)
                }
            }
        }
    }
}

extension MappingMembers {
    /// The members of a kernel line where it lies: its ``Mapping``'s when the line
    /// ``MapsLine/isPlain`` (its bytes are then the Mapping's Strings).
    init(_ line: MapsLine, detail: SmapsDetail?) {
        self.init(
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

    /// The most bytes the object takes, after a comma: at most 240 for its punctuation, keys,
    /// numbers and kind, 11 × 36 for the smaps figures, and its text fields, each escaped at worst.
    var maxBytes: Int {
        240 + 11 * 36 + FixedWriter.maxStringBytes(utf8Count: perms.count)
            + FixedWriter.maxStringBytes(utf8Count: device.count)
            + FixedWriter.maxStringBytes(utf8Count: path?.count ?? 0)
    }
}

extension SmapsFields {
    /// The most bytes ``FixedWriter/write(_:)-(SmapsFields)`` writes for these lines.
    var maxJSONBytes: Int {
        var most = 32
        for field in fields { most += FixedWriter.maxStringBytes(utf8Count: field.key.utf8.count) + 22 }
        for flag in vmFlags ?? [] { most += FixedWriter.maxStringBytes(utf8Count: flag.utf8.count) + 1 }
        return most
    }
}

extension FixedWriter {
    /// One mapping object, after a comma when `comma`: the one place its members are written;
    /// with `fields`, every smaps line too.
    mutating func write(_ m: MappingMembers, fields: SmapsFields? = nil, comma: Bool = false) {
        if comma { append(",") }
        append("{\"start\":")
        writeHex(m.start)
        append(",\"end\":")
        writeHex(m.end)
        append(",\"size\":")
        writeInt(Int(m.end - m.start))
        append(",\"perms\":")
        writeString(utf8: m.perms)
        append(",\"offset\":")
        writeHex(m.offset)
        append(",\"device\":")
        writeString(utf8: m.device)
        append(",\"inode\":")
        writeInt(Int(m.inode))
        append(",\"path\":")
        if let path = m.path { writeString(utf8: path) } else { append("null") }
        append(",\"kind\":\"")
        switch m.kind {
        case .file: append(m.isDeleted ? "file\",\"deleted\":true" : "file\",\"deleted\":false")
        case .anon: append("anon\"")
        case .heap: append("heap\"")
        case .stack: append("stack\"")
        case .vdso: append("vdso\"")
        case .vvar: append("vvar\"")
        case .vsyscall: append("vsyscall\"")
        case .other: append("other\"")
        }
        if let d = m.detail { write(d) }
        if let fields { write(fields) }
        append("}")
    }

    /// A mapping's `smaps` (every `Key: N kB` in bytes, `Key: N` as N, in the kernel's order) and
    /// `vmFlags`, after a comma.
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
    }

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
