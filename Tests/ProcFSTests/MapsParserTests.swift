import Testing

@testable import ProcFS

@Suite struct MapsParserTests {
    func parse(_ bytes: [UInt8]) throws -> [Mapping] {
        try bytes.withUnsafeBufferPointer { buffer throws(ProcError) in try MapsParser.parseMaps(buffer) }
    }

    @Test func decodesEveryLineExactly() throws {
        let mappings = try parse(try fixture("maps"))
        #expect(mappings.count == 12)
        #expect(mappings[0].start == 0x55d0_c8e0_0000 && mappings[0].end == 0x55d0_c8e2_1000)
        #expect(mappings[0].perms == "r--p" && mappings[0].device == "fd:01" && mappings[0].inode == 1_835_023)
        #expect(mappings[0].path == "/usr/bin/bash" && mappings[0].kind == .file && !mappings[0].isDeleted)
        #expect(mappings[1].kind == .heap && mappings[1].path == "[heap]")
        #expect(mappings[2].path == nil && mappings[2].kind == .anon && mappings[2].size == 0x6400000)
        #expect(mappings[3].path == "/memfd:shm" && mappings[3].isDeleted && mappings[3].kind == .file)
        #expect(mappings[4].path == "/tmp/a file with  spaces" && mappings[4].offset == 0x1000)
        #expect(mappings[5].path == "/tmp/new\nline" && mappings[5].isDeleted)
        #expect(mappings[6].kind == .anon && mappings[6].path == "[anon:glibc malloc]")
        #expect(mappings.map(\.kind)[7...] == [.stack, .vvar, .other, .vdso, .vsyscall])
        #expect(mappings[11].start == 0xffff_ffff_ff60_0000)
    }

    @Test(arguments: [
        "zzzz-1 r--p 0 00:00 0", "1000-2000 r--p", "1000-2000 rw 0 00:00 0", "1000 r--p 0 00:00 0",
        "2000-1000 r--p 0 00:00 0",
        // A range wider than Int.max: no kernel maps it, and its size would trap where it is written.
        "0-ffffffffffffffff r--p 0 00:00 0",
    ])
    func rejectsMalformedLines(line: String) {
        #expect(throws: ProcError.self) { try parse(Array(line.utf8)) }
    }

    @Test func smapsMatchesMapsAndRollup() throws {
        let smaps = try fixture("smaps")
        let mappings = try smaps.withUnsafeBufferPointer { buffer throws(ProcError) in try MapsParser.parseSmaps(buffer)
        }
        #expect(!mappings.isEmpty)
        #expect(mappings.allSatisfy { $0.detail != nil })
        // Every `Rss:` line of the text, summed by hand, equals the parsed sum.
        let rssLines = try fixtureLines("smaps").filter { $0.hasPrefix("Rss:") }
        let rssByHand = rssLines.map { Int($0.split(separator: " ")[1])! * 1024 }.reduce(0, +)
        let parsed = mappings.reduce(SmapsDetail()) { $0 + $1.detail! }
        #expect(parsed.rss == rssByHand)
        let rollup = try fixture("smaps_rollup").withUnsafeBufferPointer { MapsParser.parseRollup($0) }
        let rollupRss = try fixtureLines("smaps_rollup").first { $0.hasPrefix("Rss:") }!.split(separator: " ")[1]
        #expect(rollup.rss == Int(rollupRss)! * 1024)
        #expect(rollup.uss == rollup.privateClean + rollup.privateDirty)
    }
}

extension MapsParserTests {
    /// `fields`: every line of each mapping as smaps names it, kB lines in bytes, VmFlags split;
    /// the detail figures the same as without.
    @Test func smapsFieldsAreEveryLineAsNamed() throws {
        let smaps = try fixture("smaps")
        let (plain, full) = try smaps.withUnsafeBufferPointer { buffer throws(ProcError) in
            (try MapsParser.parseSmaps(buffer), try MapsParser.parseSmaps(buffer, fields: true))
        }
        #expect(plain.allSatisfy { $0.smaps == nil })
        #expect(full.map(\.detail) == plain.map(\.detail) && full.count == plain.count)
        // The text's own lines, mapping by mapping.
        var expected: [SmapsFields] = []
        for line in try fixtureLines("smaps") {
            let words = line.split(separator: " ")
            if words.first?.hasSuffix(":") != true {
                expected.append(SmapsFields())
            } else if words[0] == "VmFlags:" {
                expected[expected.count - 1].vmFlags = words.dropFirst().map(String.init)
            } else {
                let number = Int(words[1])!
                let isBytes = words.count == 3 && words[2] == "kB"
                expected[expected.count - 1].fields.append(
                    .init(key: String(words[0].dropLast()), value: isBytes ? number * 1024 : number, isBytes: isBytes)
                )
            }
        }
        #expect(full.map(\.smaps) == expected)
        let first = try #require(full.first?.smaps)
        #expect(
            first.fields.count == 23 && first.fields.last?.key == "THPeligible" && first.fields.last?.isBytes == false
        )
        #expect(
            first.fields.first == .init(key: "Size", value: 8192, isBytes: true)
                && first.vmFlags == ["rd", "mr", "mw", "me"]
        )
    }
}

@Suite struct ProcessStatTests {
    @Test func countsFieldsFromTheLastParenthesis() throws {
        let stat = try fixture("stat").withUnsafeBufferPointer { buffer throws(ProcError) in
            try ProcessStat.parse(buffer)
        }
        #expect(stat.pid == 4242 && stat.comm == "we ird) (x" && stat.state == "S" && stat.ppid == 1)
        #expect(stat.minflt == 1234 && stat.majflt == 56 && stat.vsize == 104_857_600 && stat.rssPages == 2560)
    }

    @Test func readsItsOwnStatLikePs() throws {
        var reader = ProcReader()
        let me = getpid()
        let stat = try reader.stat(pid: me)
        #expect(stat.pid == me)
        #expect(stat.vsize > 0 && stat.rssPages > 0)
    }

    @Test func vanishedProcessIsNotFound() {
        var reader = ProcReader()
        #expect(throws: ProcError.notFound(path: "/proc/2147483647/stat")) { try reader.stat(pid: Int32.max) }
    }
}

#if canImport(Glibc)
import Glibc
#endif
