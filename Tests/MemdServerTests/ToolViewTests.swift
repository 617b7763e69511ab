import Foundation
import JSONRPC
import Testing

/// A process that holds still while two tools look at it: `sleep`, started by the test.
final class StillProcess {
    let process = Process()
    var pid: Int32 { process.processIdentifier }

    init(_ path: String = "/bin/sleep", _ arguments: [String] = ["1000"]) throws {
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        try process.run()
        // Until it has exec'd and settled (its maps no longer those of the test runner).
        for _ in 0..<100 {
            if let maps = try? readProc("/proc/\(pid)/maps"), maps.contains(path.split(separator: "/").last!) {
                break
            }
            usleep(10_000)
        }
        usleep(100_000)
    }

    deinit {
        process.terminate()
        process.waitUntilExit()
    }
}

let cLocale = ["LC_ALL": "C", "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]

/// `memctl maps` against procps's pmap, on the same still process: every layout to the character.
@Suite(.serialized) struct PmapViewTests {
    @Test(arguments: [
        (["-x"], [String]()), (["-d"], ["-d"]), ([], ["--plain"]), (["-x", "-q"], ["-q"]),
        (["-d", "-q"], ["-d", "-q"]),
        (["-x", "-p"], ["-p"]),
    ])
    func mapsEqualsPmap(pmapFlags: [String], memctlFlags: [String]) throws {
        let memd = try MemdHarness()
        defer { memd.stop() }
        let still = try StillProcess()
        let memctl = productsDirectory.appendingPathComponent("memctl").path
        for pid in [still.pid, 2] {  // a sleeping command, and kthreadd (no mappings, no cmdline)
            let pmap = try run("pmap", pmapFlags + ["\(pid)"], environment: cLocale)
            let mine = try run(
                memctl,
                ["--socket", memd.socketPath, "maps"] + memctlFlags + ["\(pid)"],
                environment: cLocale
            )
            #expect(pmap.status == 0 && mine.status == 0, "\(pmap.err) \(mine.err)")
            #expect(mine.out == pmap.out, "pmap \(pmapFlags) \(pid):\n\(pmap.out)\nmemctl:\n\(mine.out)")
        }
    }

    @Test func pidsAreCheckedWithTheRealProblemNamed() throws {
        let memctl = productsDirectory.appendingPathComponent("memctl").path
        for (word, expected) in [("-5", "'-5' is not a process id"), ("abc", "'abc' is not a process id")] {
            let result = try run(memctl, ["--socket", "/nonexistent.sock", "maps", word])
            #expect(result.status == 2 && result.err.contains(expected), "\(word): \(result.err)")
        }
    }
}

/// `memctl ps` against procps's ps -eo: the header, and the rows of processes that hold still.
@Suite(.serialized) struct PsViewTests {
    @Test(arguments: [
        "pid,vsz,rss,maj_flt,min_flt,comm", "comm,pid", "pid,rss=RESIDENT,comm", "pid=,rss=",
        "pid,rss,minflt,majflt,ucmd",
    ])
    func psEqualsProcps(columns: String) throws {
        let memd = try MemdHarness()
        defer { memd.stop() }
        let still = try StillProcess()
        let memctl = productsDirectory.appendingPathComponent("memctl").path
        let ps = try run("ps", ["-eo", columns], environment: cLocale)
        let mine = try run(memctl, ["--socket", memd.socketPath, "ps", "-o", columns], environment: cLocale)
        #expect(ps.status == 0 && mine.status == 0, "\(ps.err) \(mine.err)")
        let psLines = ps.out.split(separator: "\n")
        let myLines = mine.out.split(separator: "\n")
        let hasHeader = !columns.hasSuffix("=")
        if hasHeader { #expect(myLines.first == psLines.first, "header:\n\(psLines[0])\n\(myLines[0])") }
        // The still process and kthreadd: the same line in both, to the character.
        func line(_ lines: [Substring], pid: Int32) -> Substring? {
            let index = columns.split(separator: ",").firstIndex { $0.hasPrefix("pid") }
            return lines.dropFirst(hasHeader ? 1 : 0).first { line in
                let fields = line.split(separator: " ")
                return index.map { fields.count > $0 && fields[$0] == "\(pid)" } ?? line.hasSuffix(" sleep")
            }
        }
        for pid in [still.pid, 2] where columns.contains("pid") || pid == still.pid {
            let theirs = line(psLines, pid: pid)
            #expect(theirs != nil, "ps shows \(pid)")
            #expect(line(myLines, pid: pid) == theirs, "pid \(pid), -o \(columns)")
        }
        // Every process in both; the pids in the same order.
        let pidColumn = columns.split(separator: ",").firstIndex { $0.hasPrefix("pid") }
        if let pidColumn {
            let theirs = Set(psLines.dropFirst(hasHeader ? 1 : 0).map { $0.split(separator: " ")[pidColumn] })
            let ours = myLines.dropFirst(hasHeader ? 1 : 0).map { $0.split(separator: " ")[pidColumn] }
            #expect(ours.map { Int($0) ?? 0 } == ours.map { Int($0) ?? 0 }.sorted())
            #expect(Set(ours).intersection(theirs).count >= theirs.count - 3, "nearly the same processes")
        }
    }

    @Test func unknownColumnsAreNamed() throws {
        let memctl = productsDirectory.appendingPathComponent("memctl").path
        let result = try run(memctl, ["--socket", "/nonexistent.sock", "ps", "-o", "pid,args"])
        #expect(result.status == 2 && result.err.contains("no column 'args'"), "\(result.err)")
    }
}

/// `memctl sar` against sysstat's sar, run back to back: the same lines, the same timing, the
/// figures within what moves in a second.
@Suite(.serialized) struct SarToolTests {
    /// A report's lines after the banner, split into label and cells.
    static func rows(_ text: String) -> [(label: String, cells: [String])] {
        text.split(separator: "\n").dropFirst().map { line in
            (String(line.prefix(11)), line.dropFirst(11).split(separator: " ").map(String.init))
        }
    }

    @Test(arguments: [["-r"], ["-r", "ALL"], ["-B"]])
    func sarEqualsSysstat(flags: [String]) throws {
        let memd = try MemdHarness()
        defer { memd.stop() }
        let memctl = productsDirectory.appendingPathComponent("memctl").path
        let started = Date()
        let mine = try run(
            memctl,
            ["--socket", memd.socketPath, "sar", "--sysstat-12.6"] + flags + ["1", "2"],
            environment: cLocale
        )
        let took = Date().timeIntervalSince(started)
        let sar = try run("sar", flags + ["1", "2"], environment: cLocale)
        #expect(sar.status == 0 && mine.status == 0, "\(sar.err) \(mine.err)")
        // As sar: the first row one interval after the start, the last two.
        #expect(took >= 2 && took < 3.5, "memctl sar 1 2 took \(took) s")
        let sarLines = sar.out.split(separator: "\n", omittingEmptySubsequences: false)
        let myLines = mine.out.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(myLines.first == sarLines.first, "the banner")
        #expect(myLines.count == sarLines.count, "sar:\n\(sar.out)\nmemctl:\n\(mine.out)")
        for (mineLine, sarLine) in zip(myLines, sarLines) {
            #expect(mineLine.count == sarLine.count, "widths:\n\(sarLine)\n\(mineLine)")
        }
        let theirs = Self.rows(sar.out)
        let ours = Self.rows(mine.out)
        guard theirs.count == ours.count, theirs.count == 4 else { return }
        #expect(ours[0].cells == theirs[0].cells, "the header")
        #expect(ours[3].label == "Average:   " && theirs[3].label == "Average:   ")
        // The header is stamped with the time the run began, each row one second later.
        func seconds(_ label: String) -> Int? {
            let parts = label.trimmingCharacters(in: .whitespaces).split(separator: ":").compactMap { Int($0) }
            return parts.count == 3 ? parts[0] * 3600 + parts[1] * 60 + parts[2] : nil
        }
        if let header = seconds(ours[0].label), let first = seconds(ours[1].label), let second = seconds(ours[2].label)
        {
            #expect((first - header + 86_400) % 86_400 == 1 && (second - first + 86_400) % 86_400 == 1)
        }
        let total = Double((try readMeminfo())["MemTotal"] ?? 0) / 1024
        for (row, (mineRow, sarRow)) in zip(ours, theirs).enumerated().dropFirst() {
            #expect(mineRow.cells.count == sarRow.cells.count)
            for (column, (a, b)) in zip(mineRow.cells, sarRow.cells).enumerated() {
                guard let x = Double(a), let y = Double(b) else {
                    Issue.record("row \(row) column \(column): \(a) vs \(b)")
                    continue
                }
                let name = ours[0].cells[column]
                // What moves between two runs a second apart on a shared host, and no more: kB
                // within 3% of MemTotal, percentages within 3 points. -B's rates are of two
                // different seconds (a build next door pages thousands a second): their format
                // only, and their arithmetic in pagingRatesAreCountsOverHundredths.
                if flags != ["-B"] {
                    let tolerance = name.hasPrefix("%") ? 3 : 0.03 * total
                    #expect(abs(x - y) <= tolerance, "\(name) row \(row): memctl \(a), sar \(b)")
                }
                // sar's own formats: kB as integers, the rest with two decimals.
                #expect(a.contains(".") == b.contains("."), "\(name): \(a) vs \(b)")
            }
        }
    }

    @Test func pagingRatesAreCountsOverHundredths() throws {
        // One second of sar -B is 100 hundredths: a counter's rate is its change, a whole number,
        // unless the sample came a hundredth late (101): then a multiple of 100/101.
        let memd = try MemdHarness()
        defer { memd.stop() }
        let memctl = productsDirectory.appendingPathComponent("memctl").path
        let mine = try run(memctl, ["--socket", memd.socketPath, "sar", "-B", "1", "3"], environment: cLocale)
        #expect(mine.status == 0, "\(mine.err)")
        for row in Self.rows(mine.out).dropFirst().filter({ !$0.label.hasPrefix("Average") }) {
            for cell in row.cells.prefix(8) {
                guard let rate = Double(cell) else { continue }
                let whole = [100.0, 101, 102, 99].contains { itv in
                    let count = rate * itv / 100
                    return abs(count - count.rounded()) <= 0.006 * itv / 100 + 1e-9
                }
                #expect(whole, "\(cell) is a count over 0.99 to 1.02 s")
            }
        }
    }

    @Test func wordsAfterTheFlagAreChecked() throws {
        let memctl = productsDirectory.appendingPathComponent("memctl").path
        let bad = try run(memctl, ["--socket", "/nonexistent.sock", "sar", "-r", "soon"])
        #expect(bad.status == 2 && bad.err.contains("the interval must be a whole number"), "\(bad.err)")
        let all = try run(memctl, ["--socket", "/nonexistent.sock", "sar", "-B", "ALL"])
        #expect(all.status == 2 && all.err.contains("ALL goes with -r"), "\(all.err)")
    }
}

/// `memctl run` against GNU `time -v`: the same 23 lines in the same formats, the command's own
/// figures (no shell in between).
@Suite(.serialized) struct TimeViewTests {
    /// time -v's lines as (label, value), the status line before them kept as it is.
    static func lines(_ text: String) -> [(String, String)] {
        text.split(separator: "\n").prefix { !$0.hasPrefix("memd,") }.map { line in
            guard line.hasPrefix("\t"), let colon = line.range(of: ": ", options: .backwards) else {
                return (String(line), "")
            }
            return (String(line[..<colon.lowerBound]), String(line[colon.upperBound...]))
        }
    }

    @Test(arguments: [
        ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"], ["false"], ["sh", "-c", "kill -9 $$"],
        ["true"],
    ])
    func runEqualsTimeV(command: [String]) throws {
        let memd = try MemdHarness()
        defer { memd.stop() }
        let memctl = productsDirectory.appendingPathComponent("memctl").path
        let time = try run("/usr/bin/time", ["-v"] + command, environment: cLocale)
        let mine = try run(memctl, ["--socket", memd.socketPath, "run", "--"] + command, environment: cLocale)
        #expect(mine.status == time.status, "exit \(mine.status) vs time's \(time.status)")
        let theirs = Self.lines(time.err).filter { !$0.0.hasPrefix("1+0 records") }
        let ours = Self.lines(mine.err).filter { !$0.0.hasPrefix("1+0 records") }
        #expect(ours.map(\.0) == theirs.map(\.0), "time:\n\(time.err)\nmemctl:\n\(mine.err)")
        let moving = [
            "\tUser time (seconds)", "\tSystem time (seconds)", "\tPercent of CPU this job got",
            "\tElapsed (wall clock) time (h:mm:ss or m:ss)", "\tMaximum resident set size (kbytes)",
            "\tMinor (reclaiming a frame) page faults", "\tVoluntary context switches",
            "\tInvoluntary context switches",
            "\tFile system inputs", "\tFile system outputs", "\tMajor (requiring I/O) page faults",
        ]
        for ((label, a), (_, b)) in zip(ours, theirs) {
            if !moving.contains(label) {
                #expect(a == b, "\(label): memctl \(a), time \(b)")
                continue
            }
            // The same format, figures close: what the command itself did, not a shell's.
            #expect(a.filter(\.isNumber).count > 0 && a.contains(".") == b.contains("."), "\(label): \(a) vs \(b)")
            if label == "\tMaximum resident set size (kbytes)", let x = Double(a), let y = Double(b) {
                #expect(abs(x - y) <= max(4096, 0.1 * y), "max rss \(a) vs \(b) kB")
            }
            if label == "\tMinor (reclaiming a frame) page faults", let x = Double(a), let y = Double(b) {
                #expect(abs(x - y) <= max(200, 0.2 * y), "minor faults \(a) vs \(b)")
            }
        }
        // memd's section follows, its process table naming the command, not a shell.
        #expect(mine.err.contains("memd, a sample every"))
        #expect(!mine.err.contains(" sh -c read"), "no gate shell")
    }
}
