import Foundation
import JSONRPC
import MemdProtocol
import Testing

/// meminfo, maps and pageStats over a real socket, against the kernel and procps/sysstat.
@Suite(.serialized) struct ProcMethodsTests {
    @Test func meminfoIsWhatFreeShows() throws {
        let memd = try MemdHarness()
        let client = try memd.client()
        func free() throws -> (mem: [Int], swap: [Int]) {
            let text = try run("free", ["-b"], environment: ["LC_ALL": "C", "PATH": "/usr/bin:/bin"]).out
            func row(_ index: Int) -> [Int] {
                text.split(separator: "\n")[index].split(separator: " ").dropFirst().map { Int($0)! }
            }
            return (row(1), row(2))
        }
        let freeBefore = try free()
        let before = try readMeminfo()
        let info = try call(client, "meminfo")
        let after = try readMeminfo()
        let freeAfter = try free()
        let (mem, swap) = freeAfter

        #expect(Format.int(info["total"]) == before["MemTotal"])
        #expect(Format.int(info["total"]) == mem[0])
        // Every figure lies between the snapshots read just before and just after (±1 MiB of drift).
        func between(
            _ field: String,
            _ compute: ([String: Int]) -> Int,
            sourceLocation: SourceLocation = #_sourceLocation
        ) {
            let value = Format.int(info[field])
            let (a, b) = (compute(before), compute(after))
            #expect(
                value >= min(a, b) - (1 << 20) && value <= max(a, b) + (1 << 20),
                "\(field)=\(value) not in \(a)…\(b)",
                sourceLocation: sourceLocation
            )
        }
        between("free") { $0["MemFree"]! }
        between("available") { $0["MemAvailable"]! }
        between("used") { $0["MemTotal"]! - $0["MemAvailable"]! }
        between("shared") { $0["Shmem"]! }
        between("buffers") { $0["Buffers"]! }
        between("cache") { $0["Cached"]! + $0["SReclaimable"]! }
        #expect(Format.int(info["buffCache"]) == Format.int(info["buffers"]) + Format.int(info["cache"]))
        #expect(Format.int(info["used"]) == Format.int(info["total"]) - Format.int(info["available"]))
        // free -b, run just before and just after, brackets every figure (±1 MiB of drift). The same
        // figures to the byte, on one meminfo, are FreeViewTests' bind-mounted comparison.
        let freeColumns = ["total", "used", "free", "shared", "buffCache", "available"]
        for (index, column) in freeColumns.enumerated() {
            let value = Format.int(info[column])
            let (a, b) = (freeBefore.mem[index], freeAfter.mem[index])
            #expect(
                value >= min(a, b) - (1 << 20) && value <= max(a, b) + (1 << 20),
                "\(column): memd \(value), free -b \(a) before and \(b) after"
            )
        }
        #expect(Format.int(info["swapTotal"]) == swap[0] && Format.int(info["swapFree"]) == swap[2])
        // raw: every key of /proc/meminfo, in bytes.
        let raw = try #require(info["raw"]?.objectValue)
        #expect(Set(raw.keys) == Set(before.keys))
        #expect(raw["MemTotal"] == .int(before["MemTotal"]!))
        memd.stop()
    }

    @Test func sarBlockMatchesSysstat() throws {
        let memd = try MemdHarness()
        let client = try memd.client()
        let env = ["LC_ALL": "C", "S_TIME_FORMAT": "ISO", "PATH": "/usr/bin:/bin"]
        let sarRun = try run("sar", ["-r", "ALL", "1", "1"], environment: env)
        #expect(sarRun.status == 0, "sar -r ALL failed: \(sarRun.err)")
        let info = try call(client, "meminfo")
        let sar = try #require(info["sar"])
        let lines = sarRun.out.split(separator: "\n")
        let header = try #require(lines.first { $0.contains("kbmemfree") }).split(separator: " ")
        let average = try #require(lines.first { $0.hasPrefix("Average:") }).split(separator: " ")
        // Columns right-aligned: match from the end of the line.
        let columns = Dictionary(
            uniqueKeysWithValues: zip(header.reversed(), average.reversed()).map { (String($0), String($1)) }
        )
        let total = Double(Format.int(info["total"]))
        let pairs: [(String, String)] = [
            ("kbmemfree", "memFree"), ("kbavail", "available"), ("kbbuffers", "buffers"), ("kbcached", "cached"),
            ("kbcommit", "commit"), ("kbactive", "active"), ("kbinact", "inactive"), ("kbdirty", "dirty"),
            ("kbanonpg", "anonPages"), ("kbslab", "slab"), ("kbkstack", "kernelStack"), ("kbpgtbl", "pageTables"),
            ("kbvmused", "vmallocUsed"),
        ]
        for (column, field) in pairs {
            let sarValue = try #require(columns[column].flatMap(Int.init), "no \(column) in sar output") * 1024
            let memdValue = Format.int(sar[field])
            // One second apart on a shared host: within 1% of total memory.
            #expect(Double(abs(sarValue - memdValue)) <= total * 0.01, "\(column): sar \(sarValue) memd \(memdValue)")
        }
        // memUsed follows 12.7.9+ (MemTotal − MemAvailable), whatever this host's sar prints.
        #expect(Format.int(sar["memUsed"]) == Format.int(info["total"]) - Format.int(sar["available"]))
        let commitBase = Double(Format.int(info["total"]) + Format.int(info["swapTotal"]))
        #expect(abs(Format.double(sar["commitPercent"]) - Double(Format.int(sar["commit"])) / commitBase * 100) < 1e-9)
        memd.stop()
    }

    @Test func mapsIsProcPIDMapsExactly() throws {
        let memd = try MemdHarness()
        let client = try memd.client()
        let helper = try MapsHelper()
        defer { helper.stop() }
        let result = try call(client, "maps", ["pid": .int(Int(helper.pid))])
        let text = try readProc("/proc/\(helper.pid)/maps")
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        let mappings = try #require(result["mappings"]?.arrayValue)
        #expect(mappings.count == lines.count)
        for (mapping, line) in zip(mappings, lines) {
            #expect(reconstruct(mapping) == collapse(line), "memd \(mapping) vs maps \(line)")
        }
        let paths = mappings.compactMap { $0["path"]?.stringValue }
        #expect(paths.contains(helper.dir + "/a file with  spaces"))
        #expect(paths.contains(helper.dir + "/new\nline"))
        let deleted = try #require(mappings.first { $0["path"]?.stringValue == helper.dir + "/gone" })
        #expect(deleted["deleted"] == .bool(true))
        #expect(mappings.contains { $0["kind"] == "anon" && Format.int($0["size"]) >= 3 << 20 })
        #expect(mappings.filter { $0["kind"] == "file" }.allSatisfy { $0["deleted"]?.boolValue != nil })
        let stat = try readProc("/proc/\(helper.pid)/stat")
        let vsize = Int(stat[stat.range(of: ")", options: .backwards)!.upperBound...].split(separator: " ")[20])!
        #expect(result["totals"]?["vsz"] == .int(vsize))
        #expect(result["command"] == .string("python3"))

        let detailed = try call(client, "maps", ["pid": .int(Int(helper.pid)), "detail": true])
        let rollup = try readProc("/proc/\(helper.pid)/smaps_rollup")
        let rollupRss =
            Int(rollup.split(separator: "\n").first { $0.hasPrefix("Rss:") }!.split(separator: " ")[1])! * 1024
        #expect(abs(Format.int(detailed["totals"]?["rss"]) - rollupRss) <= 64 * 1024)
        let sumRss = (detailed["mappings"]?.arrayValue ?? []).reduce(0) { $0 + Format.int($1["rss"]) }
        #expect(abs(sumRss - rollupRss) <= 64 * 1024)
        memd.stop()
    }

    /// `smaps: true`: every line of /proc/PID/smaps, as the kernel names it, in its order.
    @Test func mapsSmapsIsEverySmapsLine() throws {
        let memd = try MemdHarness()
        defer { memd.stop() }
        let client = try memd.client()
        let still = try StillProcess()
        let result = try call(client, "maps", ["pid": .int(Int(still.pid)), "smaps": true])
        let text = try readProc("/proc/\(still.pid)/smaps")
        // The kernel's mappings: each header, its `Key: N [kB]` lines, its VmFlags.
        var kernel: [(fields: [(key: String, value: Int, unit: Bool)], flags: [String])] = []
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ")
            if line.first.map({ $0.isHexDigit && $0.isLowercase || $0.isNumber }) == true {
                kernel.append(([], []))
            } else if words.first == "VmFlags:" {
                kernel[kernel.count - 1].flags = words.dropFirst().map(String.init)
            } else if words.count >= 2, let number = Int(words[1]) {
                kernel[kernel.count - 1].fields.append((String(words[0].dropLast()), number, words.count == 3))
            }
        }
        let mappings = try #require(result["mappings"]?.arrayValue)
        #expect(mappings.count == kernel.count && !kernel.isEmpty)
        for (mapping, theirs) in zip(mappings, kernel) {
            let members = mapping["smaps"]?.objectValue?.members ?? []
            #expect(members.map(\.key) == theirs.fields.map(\.key), "keys of \(mapping)")
            // Pss moves as other processes map the same files; every other figure of a sleep holds.
            for (member, field) in zip(members, theirs.fields) where !field.key.contains("Pss") {
                #expect(member.value == .int(field.unit ? field.value * 1024 : field.value), "\(field)")
            }
            #expect(mapping["vmFlags"]?.arrayValue?.compactMap(\.stringValue) == theirs.flags)
            #expect(mapping["rss"] == nil, "no detail members unless asked")
        }
        let unitless = kernel.first?.fields.filter { !$0.unit }.map(\.key) ?? []
        #expect(
            result["smapsUnitless"]?.arrayValue?.compactMap(\.stringValue) == unitless
                && unitless.contains("THPeligible")
        )
        // Without the param, no smaps member and no smapsUnitless: the default reply is unchanged.
        let plain = try call(client, "maps", ["pid": .int(Int(still.pid)), "detail": true])
        #expect(plain["smapsUnitless"] == nil && plain["mappings"]?.arrayValue?.first?["smaps"] == nil)
        // A kernel thread: no mappings, an empty list of unitless keys.
        let kthreadd = try call(client, "maps", ["pid": 2, "smaps": true])
        #expect(kthreadd["mappings"]?.arrayValue?.isEmpty == true && kthreadd["smapsUnitless"] == .array([]))
    }

    @Test func mapsErrors() throws {
        let memd = try MemdHarness()
        let client = try memd.client()
        expectError(client, "maps", ["pid": .int(Int(Int32.max))], code: -32001, kind: "processNotFound")
        expectError(client, "maps", [:], code: -32602, kind: "invalidParams")
        expectError(client, "maps", ["pid": "12"], code: -32602, kind: "invalidParams")
        expectError(client, "maps", ["pid": 1, "detial": true], code: -32602, kind: "invalidParams")
        expectError(client, "maps", ["pid": 1, "source": "sim", "machine": "m1"], code: -32005, kind: "simNotFound")
        expectError(client, "maps", ["pid": 1, "smaps": 1], code: -32602, kind: "invalidParams")
        expectError(
            client,
            "maps",
            ["pid": 1, "smaps": true, "source": "sim", "machine": "m1"],
            code: -32602,
            kind: "invalidParams"
        )
        memd.stop()
    }

    @Test func pageStatsIsWhatPsAndStatShow() throws {
        let memd = try MemdHarness()
        let client = try memd.client()
        let helper = try MapsHelper()
        defer { helper.stop() }
        let row = try call(client, "pageStats", ["pid": .int(Int(helper.pid))])
        let stat = try readProc("/proc/\(helper.pid)/stat")
        let fields = stat[stat.range(of: ")", options: .backwards)!.upperBound...].split(separator: " ")
        #expect(row["minflt"] == .int(Int(fields[7])!))
        #expect(row["majflt"] == .int(Int(fields[9])!))
        #expect(row["vsz"] == .int(Int(fields[20])!))
        let status = try readProc("/proc/\(helper.pid)/status").split(separator: "\n").first { $0.hasPrefix("VmRSS:") }!
        #expect(row["rss"] == .int(Int(status.split(separator: " ")[1])! * 1024))
        let ps = try run("ps", ["-o", "vsz=,rss=,maj_flt=,min_flt=", "-p", "\(helper.pid)"]).out.split(whereSeparator: {
            $0 == " " || $0 == "\n"
        }).compactMap { Int($0) }
        #expect(
            ps == [
                Format.int(row["vsz"]) / 1024, Format.int(row["rss"]) / 1024, Format.int(row["majflt"]),
                Format.int(row["minflt"]),
            ]
        )

        let all = try call(client, "pageStats", ["all": true])
        let rows = try #require(all["processes"]?.arrayValue)
        let mine = try #require(rows.first { $0["pid"] == .int(Int(helper.pid)) })
        #expect(mine["vsz"] == row["vsz"])
        #expect(rows.count >= 3)

        let before = try vmstat()
        let system = try call(client, "pageStats")
        let after = try vmstat()
        let counters = try #require(system["counters"])
        for (key, name) in [
            ("pgfault", "pgfault"), ("pgmajfault", "pgmajfault"), ("pgpgin", "pgpgin"), ("pgfree", "pgfree"),
        ] {
            let value = Format.int(counters[key])
            #expect(
                value >= before[name]! && value <= after[name]!,
                "\(key) \(value) not in \(before[name]!)…\(after[name]!)"
            )
        }
        #expect(Set(counters["raw"]?.objectValue?.keys ?? []) == Set(before.keys))

        let sampled = try call(client, "pageStats", ["intervalMs": 300])
        let rates = try #require(sampled["rates"])
        #expect(Format.double(rates["faultPerSec"]) >= 0)
        expectError(client, "pageStats", ["pid": .int(Int(Int32.max))], code: -32001, kind: "processNotFound")
        expectError(client, "pageStats", ["intervalMs": -1], code: -32602, kind: "invalidParams")
        memd.stop()
    }

    func vmstat() throws -> [String: Int] {
        var values: [String: Int] = [:]
        for line in try readProc("/proc/vmstat").split(separator: "\n") {
            let parts = line.split(separator: " ")
            values[String(parts[0])] = Int(parts[1])!
        }
        return values
    }

    /// The maps line memd's fields stand for, as fs/proc/task_mmu.c prints it (spaces collapsed).
    func reconstruct(_ m: JSON) -> String {
        func hex(_ key: String, pad: Int) -> String {
            let digits = String(m[key]!.stringValue!.dropFirst(2))
            return String(repeating: "0", count: max(0, pad - digits.count)) + digits
        }
        var line =
            "\(hex("start", pad: 8))-\(hex("end", pad: 8)) \(m["perms"]!.stringValue!) \(hex("offset", pad: 8)) "
            + "\(m["device"]!.stringValue!) \(Format.int(m["inode"]))"
        if let path = m["path"]?.stringValue {
            line += " " + path.replacingOccurrences(of: "\n", with: "\\012")
            if m["deleted"] == .bool(true) { line += " (deleted)" }
        }
        return line
    }

    /// A maps line with the run of spaces before the path collapsed to one.
    func collapse(_ line: Substring) -> String {
        let parts = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
        var head = parts.prefix(5).joined(separator: " ")
        if parts.count > 5 {
            head += " " + parts[5].drop(while: { $0 == " " })
        }
        return head
    }
}

/// A process with the mappings maps must get right: a file with spaces in its
/// name, one with a newline, a deleted file, anonymous regions.
final class MapsHelper {
    let process = Process()
    let input = Pipe()
    let dir: String
    var pid: Int32 { process.processIdentifier }

    init() throws {
        dir = NSTemporaryDirectory() + "memd-maps-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let script = """
            import mmap, os, sys
            d = sys.argv[1]
            keep = []
            for name in ["a file with  spaces", "new\\nline", "gone"]:
                f = open(os.path.join(d, name), "w+b"); f.write(b"x" * 8192); f.flush()
                keep.append((f, mmap.mmap(f.fileno(), 8192)))
            os.unlink(os.path.join(d, "gone"))
            anon = mmap.mmap(-1, 3 << 20); anon[0:4096] = b"y" * 4096
            sys.stdout.write("ready\\n"); sys.stdout.flush()
            sys.stdin.read()
            """
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, dir]
        let output = Pipe()
        process.standardOutput = output
        process.standardInput = input
        try process.run()
        let line = output.fileHandleForReading.availableDataLine()
        guard line.hasPrefix("ready") else { throw HarnessError.commandFailed("maps helper did not start") }
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: dir)
    }
}

extension FileHandle {
    func availableDataLine() -> String {
        var bytes: [UInt8] = []
        while true {
            let data = readData(ofLength: 1)
            guard let byte = data.first else { break }
            if byte == 0x0A { break }
            bytes.append(byte)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Reading numbers out of results.
enum Format {
    static func int(_ json: JSON?) -> Int { json?.intValue ?? Int.min }
    static func double(_ json: JSON?) -> Double { json?.doubleValue ?? .nan }
}
