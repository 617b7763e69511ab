import JSONRPC
import ProcFS

/// How the /proc figures look on the wire: one place, shared by `maps`,
/// `meminfo`, `pageStats` and the experiments, for real and simulated machines.
extension Mapping {
    /// A `maps` mapping object; with `detail`, the smaps fields too.
    public func json(detail: Bool) -> JSON {
        var object = JSONObject()
        object.members.reserveCapacity(detail ? 21 : 10)
        object.members.append(("start", .hex(start)))
        object.members.append(("end", .hex(end)))
        object.members.append(("size", .int(Int(size))))
        object.members.append(("perms", .string(perms)))
        object.members.append(("offset", .hex(offset)))
        object.members.append(("device", .string(device)))
        object.members.append(("inode", .int(Int(inode))))
        object.members.append(("path", path.map(JSON.string) ?? .null))
        object.members.append(("kind", .string(kind.rawValue)))
        if kind == .file { object.members.append(("deleted", .bool(isDeleted))) }
        if detail, let d = self.detail {
            object.members.append(contentsOf: d.jsonMembers)
        }
        return .object(object)
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
            w.append("{\"start\":")
            w.writeHex(m.start)
            w.append(",\"end\":")
            w.writeHex(m.end)
            w.append(",\"size\":")
            w.writeInt(Int(m.size))
            w.append(",\"perms\":")
            w.writeString(m.perms)
            w.append(",\"offset\":")
            w.writeHex(m.offset)
            w.append(",\"device\":")
            w.writeString(m.device)
            w.append(",\"inode\":")
            w.writeInt(Int(m.inode))
            w.append(",\"path\":")
            if let path = m.path { w.writeString(path) } else { w.append("null") }
            w.append(",\"kind\":")
            w.writeString(m.kind.rawValue)
            if m.kind == .file { w.append(m.isDeleted ? ",\"deleted\":true" : ",\"deleted\":false") }
            if detail, let d = m.detail {
                for (key, value) in d.jsonMembers {
                    w.append(",")
                    w.writeString(key)
                    w.append(":")
                    w.write(value)
                }
            }
            w.append("}")
        }
        w.append("]")
        return .raw(w.bytes)
    }
}

extension SmapsDetail {
    var jsonMembers: [(key: String, value: JSON)] {
        [
            ("rss", .int(rss)), ("pss", .int(pss)), ("sharedClean", .int(sharedClean)),
            ("sharedDirty", .int(sharedDirty)), ("privateClean", .int(privateClean)),
            ("privateDirty", .int(privateDirty)), ("referenced", .int(referenced)),
            ("anonymous", .int(anonymous)), ("swap", .int(swap)), ("locked", .int(locked)),
            ("anonHugePages", .int(anonHugePages)),
        ]
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
