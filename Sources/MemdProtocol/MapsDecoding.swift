import JSONRPC
import ProcFS

// Clients' side of `maps`: its result and mappings read back from the wire (the encoders are
// `MapsMethod.Result.json` and `Mapping.json(detail:)` in ProcJSON.swift).

extension MapsMethod.Result: WireValue {
    public init(json: JSON) throws(WireDecodingError) {
        let r = try WireReader(json)
        let totals = try r.nested("totals")
        var mappings: [Mapping] = []
        for element in try r.array("mappings") { mappings.append(try Mapping(json: element)) }
        self.init(
            source: try r.choice("source"),
            pid: try r.integer("pid", as: Int32.self),
            command: try r.string("command"),
            cmdline: try r.string("cmdline"),
            vsz: try totals.int("vsz"),
            mappings: mappings,
            totals: totals.contains("rss") ? try SmapsDetail(totals: totals) : nil
        )
    }
}

extension SmapsDetail {
    /// The detail totals of `maps` (`rss`, `pss`, `uss`, `swap`): uss is carried as private clean.
    init(totals r: WireReader) throws(WireDecodingError) {
        self.init()
        rss = try r.int("rss")
        pss = try r.int("pss")
        privateClean = try r.int("uss")
        swap = try r.int("swap")
    }

    /// The smaps members of one mapping.
    init(mapping r: WireReader) throws(WireDecodingError) {
        self.init()
        rss = try r.int("rss")
        pss = try r.int("pss")
        sharedClean = try r.int("sharedClean")
        sharedDirty = try r.int("sharedDirty")
        privateClean = try r.int("privateClean")
        privateDirty = try r.int("privateDirty")
        referenced = try r.int("referenced")
        anonymous = try r.int("anonymous")
        swap = try r.int("swap")
        locked = try r.int("locked")
        anonHugePages = try r.int("anonHugePages")
    }
}

extension Mapping {
    /// A `maps` mapping object; the smaps members when present.
    public init(json: JSON) throws(WireDecodingError) {
        let r = try WireReader(json, path: "mapping")
        let (start, end) = (try r.hex("start"), try r.hex("end"))
        // `size` is end − start: a reply with them the wrong way round is refused, not trapped on.
        guard end >= start else { throw WireDecodingError(path: "mapping.end", "below start") }
        self.init(
            start: start,
            end: end,
            perms: try r.string("perms"),
            offset: try r.hex("offset"),
            device: try r.string("device"),
            inode: try r.unsigned("inode"),
            path: try r.optionalString("path"),
            isDeleted: try r.optionalBool("deleted") ?? false,
            kind: try r.choice("kind", as: MappingKind.self),
            detail: r.contains("rss") ? try SmapsDetail(mapping: r) : nil
        )
    }
}
