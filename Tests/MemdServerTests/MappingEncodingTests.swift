import JSONRPC
import MemdProtocol
import ProcFS
import Testing

/// The one `maps` mapping encoder (``JSONWriter/write(_:detail:)``) writes each member as the
/// protocol says, checked member by member against the mapping it came from: this process's
/// real mappings, and seeded random ones at the edges of every field (addresses near 2^64,
/// sizes and smaps figures up to Int.max, paths with quotes, backslashes and control bytes).
@Suite struct MappingEncodingTests {
    static func check(_ m: Mapping, _ json: JSON, detail: Bool) {
        func hex(_ key: String) -> UInt64? {
            guard let text = json[key]?.stringValue, text.hasPrefix("0x"), text == text.lowercased() else { return nil }
            return UInt64(text.dropFirst(2), radix: 16)
        }
        #expect(hex("start") == m.start && hex("end") == m.end && hex("offset") == m.offset)
        #expect(json["size"] == .int(Int(m.size)) && json["inode"] == .int(Int(m.inode)))
        #expect(json["perms"] == .string(m.perms) && json["device"] == .string(m.device))
        #expect(json["path"] == (m.path.map(JSON.string) ?? .null))
        #expect(json["kind"] == .string(m.kind.rawValue))
        #expect(json["deleted"] == (m.kind == .file ? .bool(m.isDeleted) : nil))
        let d = m.detail ?? SmapsDetail()
        let figures: [(String, Int)] = [
            ("rss", d.rss), ("pss", d.pss), ("sharedClean", d.sharedClean), ("sharedDirty", d.sharedDirty),
            ("privateClean", d.privateClean), ("privateDirty", d.privateDirty), ("referenced", d.referenced),
            ("anonymous", d.anonymous), ("swap", d.swap), ("locked", d.locked), ("anonHugePages", d.anonHugePages),
        ]
        for (key, value) in figures { #expect(json[key] == (detail ? .int(value) : nil), "\(key)") }
        let expected = 9 + (m.kind == .file ? 1 : 0) + (detail ? figures.count : 0)
        #expect(json.objectValue?.members.count == expected)
    }

    static func random(_ rng: inout FuzzGenerator) -> Mapping {
        func edge() -> UInt64 {
            switch rng.next() % 4 {
            case 0: return 0
            case 1: return UInt64.max - rng.next() % 0x10_0000
            default: return rng.next()
            }
        }
        let start = edge() & ~0xfff
        let end = max(start, min(edge(), start &+ (UInt64(Int.max) & rng.next())))
        let paths: [String?] = [
            nil, "[heap]", "[stack]", "[vdso]", "[anon:name]", "/lib/x.so", "/tmp/a \"q\"\n\\ \u{1}\u{7f}é",
            "memfd:x", String(repeating: "/\"", count: 300),
        ]
        var m = Mapping(
            start: start,
            end: end,
            perms: ["r-xp", "rw-s", "---p"][Int(rng.next() % 3)],
            offset: edge(),
            device: ["fd:01", "00:00", "103:02"][Int(rng.next() % 3)],
            inode: edge() >> 1,
            path: paths[Int(rng.next() % UInt64(paths.count))],
            isDeleted: rng.next() % 2 == 0
        )
        var d = SmapsDetail()
        d.rss = Int(edge() >> 1)
        d.pss = Int(edge() >> 1)
        d.privateDirty = Int(edge() >> 1)
        d.anonHugePages = Int.max
        d.locked = Int(rng.next() % 4096)
        m.detail = d
        return m
    }

    @Test(arguments: [false, true])
    func everyMemberAsTheProtocolSays(detail: Bool) throws {
        var reader = ProcReader()
        var all = detail ? try reader.smaps(pid: getpid()) : try reader.maps(pid: getpid())
        var rng = FuzzGenerator(state: UInt64(ProcessInfoSeed.value))
        for _ in 0..<2000 { all.append(Self.random(&rng)) }
        guard case .raw(let bytes) = Mapping.jsonArray(all, detail: detail) else {
            Issue.record("not raw")
            return
        }
        let parsed = try #require(try JSONParser.parse(bytes).arrayValue)
        #expect(parsed.count == all.count)
        for (m, json) in zip(all, parsed) { Self.check(m, json, detail: detail) }
        // The tree form is the same text.
        for m in all.prefix(50) { #expect(m.json(detail: detail) == (try JSONParser.parse(Self.text(m, detail)))) }
    }

    /// A client decoding a reply never traps on it: a negative inode, or an end below the start
    /// (whose size would underflow), is a decoding error.
    @Test(arguments: [
        #"{"start":"0x2000","end":"0x1000","size":0,"perms":"r--p","offset":"0x0","device":"00:00","inode":0,"path":null,"kind":"anon"}"#,
        #"{"start":"0x1000","end":"0x2000","size":4096,"perms":"r--p","offset":"0x0","device":"00:00","inode":-1,"path":null,"kind":"anon"}"#,
    ])
    func hostileMappingsAreRefusedNotTrappedOn(text: String) throws {
        #expect(throws: WireDecodingError.self) { _ = try Mapping(json: try JSONParser.parse(text)) }
    }

    static func text(_ m: Mapping, _ detail: Bool) -> [UInt8] {
        var w = JSONWriter()
        w.write(m, detail: detail)
        return w.bytes
    }
}

/// The seed of this run's random mappings: `MEMD_FUZZ_SEED` replays one.
enum ProcessInfoSeed {
    static let value: Int = {
        if let text = getenv("MEMD_FUZZ_SEED"), let seed = Int(String(cString: text)) { return seed }
        return 20_261_129
    }()
}

#if canImport(Glibc)
import Glibc
#endif
