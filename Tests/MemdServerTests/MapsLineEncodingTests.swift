import JSONRPC
import MemdProtocol
import ProcFS
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `maps` of a real process is written from the kernel's lines where they lie (``MapsLine``: no
/// ``Mapping``, no String per line), and must be the very text the one encoder writes for the
/// mappings parsed from the same lines: this process's own maps and smaps, and seeded random lines
/// at the edges (upper-case hex, names with spaces, quotes, backslashes, control bytes, `\012`,
/// bytes that are not UTF-8, ` (deleted)`), fed whole and cut into reads at every few lines.
@Suite struct MapsLineEncodingTests {
    /// A random header line as the kernel could print it, or nearly.
    static func randomHeader(_ rng: inout FuzzGenerator) -> [UInt8] {
        func hex(_ value: UInt64, width: Int = 0) -> String {
            let digits = String(value, radix: 16, uppercase: rng.chance(10))
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        let start = rng.pick([0, rng.next() & 0xffff_ffff_f000, UInt64.max - 0xfff])
        let end = start + min(UInt64.max - start, rng.pick([0, 0x1000, rng.next() >> 20]))
        let names: [[UInt8]] = [
            [], Array("[heap]".utf8), Array("[stack]".utf8), Array("[vdso]".utf8), Array("[vvar]".utf8),
            Array("[vsyscall]".utf8), Array("[anon:glibc malloc]".utf8), Array("/usr/lib/libc.so.6".utf8),
            Array("/tmp/a file with  spaces".utf8), Array("/tmp/new\\012line (deleted)".utf8),
            Array("/memfd:shm (deleted)".utf8), Array("/tmp/\"q\"\\\u{1}\u{7f}\t".utf8), Array("/tmp/é✓".utf8),
            [0x2f, 0xff, 0xfe, 0x41], Array("memfd:x".utf8), Array(" (deleted)".utf8),
            Array(String(repeating: "/\"", count: 300).utf8),
        ]
        var line = Array("\(hex(start, width: 8))-\(hex(end, width: 8)) ".utf8)
        line += Array(rng.pick(["r-xp", "rw-s", "---p", "rw-p"]).utf8) + [0x20]
        line += Array("\(hex(rng.pick([0, 0x1000, rng.next() >> 4]), width: 8)) ".utf8)
        line += Array("\(rng.pick(["fd:01", "00:00", "103:02"])) \(rng.pick([0, 42, Int.max, rng.next() >> 30]))".utf8)
        let name = rng.pick(names)
        if !name.isEmpty { line += Array(repeating: 0x20, count: Int(rng.next() % 30) + 1) + name }
        return line + [0x0A]
    }

    /// smaps: a header, then key lines (kB figures, unitless ones, VmFlags), in the kernel's shape.
    static func randomSmaps(_ rng: inout FuzzGenerator) -> [UInt8] {
        var text = randomHeader(&rng)
        let keys = [
            "Size", "Rss", "Pss", "Pss_Dirty", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty",
            "Referenced", "Anonymous", "AnonHugePages", "Swap", "SwapPss", "Locked",
        ]
        for key in keys where !rng.chance(10) {
            let figure = rng.pick([0, 4, 2048, Int(rng.next() >> 14)])
            let padding = String(repeating: " ", count: max(1, 16 - key.count))
            text += Array("\(key):\(padding)\(figure) kB\n".utf8)
        }
        text += Array("THPeligible:    \(rng.next() % 2)\nVmFlags: rd wr mr mw me ac \n".utf8)
        return text
    }

    /// The text of the mappings of `text`: written from each parsed ``Mapping``, or from its line in place.
    static func answer(_ text: [UInt8], reading: MapsParser.Reading, inPlace: Bool, cuts: Int) throws -> [UInt8] {
        var writer = MapsMethod.Writer(
            source: .proc,
            pid: 1,
            command: "x",
            cmdline: "x y",
            detail: reading != .maps,
            smaps: reading == .smapsFields
        )
        var stream = MapsParser.Stream(reading: reading)
        // Whole lines per read, as PieceReader hands them: cut after every `cuts`-th line.
        var pieces: [ArraySlice<UInt8>] = []
        var start = 0
        var lines = 0
        for (index, byte) in text.enumerated() where byte == 0x0A {
            lines += 1
            if lines % cuts == 0 || index == text.count - 1 {
                pieces.append(text[start...index])
                start = index + 1
            }
        }
        for piece in pieces {
            try Array(piece).withUnsafeBufferPointer { bytes throws(ProcError) in
                if inPlace {
                    try stream.feedLines(bytes) { line, detail, fields in
                        writer.append(line, detail: detail, smaps: fields)
                    }
                } else {
                    try stream.feed(bytes) { writer.append($0) }
                }
            }
        }
        if inPlace {
            try stream.finishLines { line, detail, fields in writer.append(line, detail: detail, smaps: fields) }
        } else {
            try stream.finish { writer.append($0) }
        }
        guard case .raw(let bytes) = writer.finish(vsz: 0, totals: nil).json else { return [] }
        return bytes
    }

    @Test(arguments: [MapsParser.Reading.maps, .smaps, .smapsFields])
    func linesInPlaceWriteTheTextOfTheirMappings(reading: MapsParser.Reading) throws {
        var text = Array(try readProc(reading == .maps ? "/proc/self/maps" : "/proc/self/smaps").utf8)
        var rng = FuzzGenerator(state: UInt64(ProcessInfoSeed.value))
        for _ in 0..<1000 { text += reading == .maps ? Self.randomHeader(&rng) : Self.randomSmaps(&rng) }
        for cuts in [1, 7, 1_000_000] {
            let parsed = try Self.answer(text, reading: reading, inPlace: false, cuts: cuts)
            let inPlace = try Self.answer(text, reading: reading, inPlace: true, cuts: cuts)
            #expect(parsed.count > text.count / 2)
            #expect(inPlace == parsed, "cut every \(cuts) lines")
        }
    }

    /// A malformed header is refused in place as it is parsed.
    @Test(arguments: ["1000-zz r--p 0 00:00 0\n", "2000-1000 r--p 0 00:00 0\n", "1000-2000 rw 0 00:00 0\n"])
    func malformedLinesAreRefusedInPlace(line: String) {
        for reading in [MapsParser.Reading.maps, .smaps] {
            var stream = MapsParser.Stream(reading: reading)
            #expect(throws: ProcError.self) {
                try Array(line.utf8).withUnsafeBufferPointer { bytes throws(ProcError) in
                    try stream.feedLines(bytes) { _, _, _ in }
                    try stream.finishLines { _, _, _ in }
                }
            }
        }
    }
}
