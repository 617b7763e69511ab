import Foundation
import JSONRPC
import Synchronization
import TestSupport
import Testing

/// Starts `body` on a thread of its own; the returned closure waits for its result.
func started<T: Sendable>(_ body: @escaping @Sendable () throws -> T) -> () throws -> T {
    let result = Mutex<Result<T, any Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
        let outcome = Result { try body() }
        result.withLock { $0 = outcome }
        done.signal()
    }
    return {
        done.wait()
        return try result.withLock { $0 ?? .failure(CancellationError()) }.get()
    }
}

/// A process that holds still while two tools look at it: `sleep`, started by the test.
final class StillProcess {
    let process = Process()
    var pid: Int32 { process.processIdentifier }

    /// `settled`: a name its maps show once it is loaded (by default, its program's).
    init(
        _ path: String = "/bin/sleep",
        _ arguments: [String] = ["1000"],
        environment: [String: String]? = nil,
        settled: String? = nil
    ) throws {
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if let environment { process.environment = environment }
        try process.run()
        // Until it has exec'd and settled (its maps no longer those of the test runner).
        let name = settled ?? String(path.split(separator: "/").last!)
        for _ in 0..<100 {
            if let maps = try? readProc("/proc/\(pid)/maps"), maps.contains(name) {
                break
            }
            usleep(10_000)
        }
        usleep(100_000)
    }

    deinit {
        // SIGKILL: the test runner's threads block SIGTERM, and the child inherits that mask.
        kill(pid, SIGKILL)
        process.waitUntilExit()
    }
}

/// The C locale and PATH only; and a sanitizer's options, so that a sanitized memd or memctl started
/// with it still writes its reports where scripts/sanitize collects them, with its suppressions.
let cLocale: [String: String] = {
    let environment = ProcessInfo.processInfo.environment
    var clean = ["LC_ALL": "C", "PATH": environment["PATH"] ?? "/usr/bin:/bin"]
    for name in ["ASAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS", "UBSAN_OPTIONS"] { clean[name] = environment[name] }
    return clean
}()

/// A `sleep` whose files no other process maps: its program, libc and loader copied to a
/// directory of its own (the files a plain sleep's maps name), run by the copied loader. Its Pss
/// holds still however many processes start and end around it (a plain sleep shares libc with
/// all of them).
final class PrivateSleep {
    let directory: URL
    let still: StillProcess
    var pid: Int32 { still.pid }

    init() throws {
        let plain = try StillProcess(environment: cLocale)
        let maps = try readProc("/proc/\(plain.pid)/maps")
        let files = Set(
            maps.split(separator: "\n").compactMap { $0.split(separator: " ").last }.filter { $0.hasPrefix("/") }
        )
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("memd-pmapx-\(getpid())-\(plain.pid)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var copies: [String: String] = [:]
        for file in files {
            let copy = directory.appendingPathComponent(String(file.split(separator: "/").last!)).path
            try FileManager.default.copyItem(atPath: String(file), toPath: copy)
            copies[String(file.split(separator: "/").last!)] = copy
        }
        guard let loader = copies.first(where: { $0.key.hasPrefix("ld-") })?.value, let sleep = copies["sleep"] else {
            throw CocoaError(.fileNoSuchFile)
        }
        still = try StillProcess(
            loader,
            ["--library-path", directory.path, sleep, "1000"],
            environment: cLocale,
            settled: "libc"
        )
    }

    deinit { try? FileManager.default.removeItem(at: directory) }
}

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

    /// -X and -XX (with -q, -p): every smaps figure, of a sleep whose files only it maps (a
    /// plain sleep's Pss moves whenever any process maps or unmaps libc). pmap runs before and
    /// after memctl, again (a few times) until the kernel held still across the three: then
    /// memctl printed what pmap did, to the character. A wrong width, word or figure never
    /// matches, however often.
    @Test(arguments: [["-X"], ["-XX"], ["-X", "-q"], ["-XX", "-q"], ["-XX", "-p"], ["-X", "-q", "-p"]])
    func smapsLayoutsEqualPmap(flags: [String]) throws {
        let memd = try MemdHarness()
        defer { memd.stop() }
        let sleep = try PrivateSleep()
        let memctl = productsDirectory.appendingPathComponent("memctl").path
        for pid in [sleep.pid, 2] {  // a sleeping command, and kthreadd (no mappings: the title only)
            var last = (pmap: "", memctl: "")
            for _ in 0..<5 {
                let before = try run("pmap", flags + ["\(pid)"], environment: cLocale)
                let mine = try run(
                    memctl,
                    ["--socket", memd.socketPath, "maps"] + flags + ["\(pid)"],
                    environment: cLocale
                )
                let after = try run("pmap", flags + ["\(pid)"], environment: cLocale)
                #expect(before.status == 0 && mine.status == 0, "\(before.err) \(mine.err)")
                last = (before.out, mine.out)
                if before.out == after.out, mine.out == before.out { break }
            }
            #expect(last.memctl == last.pmap, "pmap \(flags) \(pid):\n\(last.pmap)\nmemctl:\n\(last.memctl)")
            #expect(pid == 2 || last.pmap.contains("libc.so.6"), "\(last.pmap)")
        }
    }

    @Test func pidsAreCheckedWithTheRealProblemNamed() throws {
        let memctl = productsDirectory.appendingPathComponent("memctl").path
        for (word, expected) in [("-5", "'-5' is not a process id"), ("abc", "'abc' is not a process id")] {
            let result = try run(memctl, ["--socket", "/nonexistent.sock", "maps", word])
            #expect(result.status == 2 && result.err.contains(expected), "\(word): \(result.err)")
        }
        let both = try run(memctl, ["--socket", "/nonexistent.sock", "maps", "-x", "-XX", "1"])
        #expect(both.status == 2 && both.err.contains("give one of -x, -X, -XX, -d, --plain"), "\(both.err)")
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
            // Nearly the same processes (others come and go between the two runs).
            #expect(Set(ours).intersection(theirs).count * 10 >= theirs.count * 9)
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
        // Side by side: both over the same two seconds.
        let sarRun = started { try run("sar", flags + ["1", "2"], environment: cLocale) }
        let start = Date()
        let mine = try run(
            memctl,
            ["--socket", memd.socketPath, "sar", "--sysstat-12.6"] + flags + ["1", "2"],
            environment: cLocale
        )
        let took = Date().timeIntervalSince(start)
        let sar = try sarRun()
        #expect(sar.status == 0 && mine.status == 0, "\(sar.err) \(mine.err)")
        // As sar: the first row one interval after the start, the last two.
        #expect(took >= 2 && took < 2 + Sanitizer.scaled(1.5), "memctl sar 1 2 took \(took) s")
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
        // A row is stamped once its sample is back: within 0.1 s of its second in a plain build, which
        // a sanitizer's slower call may carry into the next second.
        let late = Int(Sanitizer.scaled(0.1))
        if let header = seconds(ours[0].label), let first = seconds(ours[1].label), let second = seconds(ours[2].label)
        {
            let gaps = [(first - header + 86_400) % 86_400, (second - header + 86_400) % 86_400]
            #expect((1...1 + late).contains(gaps[0]) && (2...2 + late).contains(gaps[1]), "\(gaps) s after the header")
        }
        for (row, (mineRow, sarRow)) in zip(ours, theirs).enumerated().dropFirst() {
            #expect(mineRow.cells.count == sarRow.cells.count)
            for (column, (a, b)) in zip(mineRow.cells, sarRow.cells).enumerated() {
                guard Double(a) != nil, Double(b) != nil else {
                    Issue.record("row \(row) column \(column): \(a) vs \(b)")
                    continue
                }
                let name = ours[0].cells[column]
                // The figures move by gigabytes a second on a shared host (builds next door):
                // they are compared on one snapshot in sarEqualsSysstatOnOneMeminfo.
                // sar's own formats: kB as integers, the rest with two decimals.
                #expect(a.contains(".") == b.contains("."), "\(name): \(a) vs \(b)")
            }
        }
    }

    /// sar and memctl on the same /proc/meminfo and /proc/vmstat (files bind-mounted over them in
    /// a private mount namespace, where sar's sadc and memd both read them): every line equal but
    /// the times; without --sysstat-12.6 only kbmemused and %memused differ, by the formula.
    @Test func sarEqualsSysstatOnOneMeminfo() throws {
        guard getuid() == 0, (try? run("unshare", ["-m", "true"]))?.status == 0 else { return }
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("memd-sar-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let meminfo = directory.appendingPathComponent("meminfo").path
        let vmstat = directory.appendingPathComponent("vmstat").path
        try readProc("/proc/meminfo").write(toFile: meminfo, atomically: true, encoding: .utf8)
        try readProc("/proc/vmstat").write(toFile: vmstat, atomically: true, encoding: .utf8)
        let bin = productsDirectory.path
        let socket = directory.appendingPathComponent("memd.sock").path
        let script = """
            mount --bind "\(meminfo)" /proc/meminfo && mount --bind "\(vmstat)" /proc/vmstat || exit 1
            "\(bin)/memd" --socket "\(socket)" --log-level error >/dev/null 2>&1 </dev/null & pid=$!
            for i in $(seq 200); do [ -S "\(socket)" ] && break; sleep 0.02; done
            # All nine at once (the figures are the snapshot's), each report printed whole after.
            n=0
            for flags in "-r" "-r ALL" "-B"; do
                sar $flags 1 1 >"\(directory.path)/$n.sar" & runs="$runs $!"
                "\(bin)/memctl" --socket "\(socket)" sar --sysstat-12.6 $flags 1 1 >"\(directory.path)/$n.126" &
                runs="$runs $!"
                "\(bin)/memctl" --socket "\(socket)" sar $flags 1 1 >"\(directory.path)/$n.mine" & runs="$runs $!"
                n=$((n + 1))
            done
            wait $runs
            n=0
            for flags in "-r" "-r ALL" "-B"; do
                echo "== sar $flags"; cat "\(directory.path)/$n.sar"
                echo "== memctl --sysstat-12.6 $flags"; cat "\(directory.path)/$n.126"
                echo "== memctl $flags"; cat "\(directory.path)/$n.mine"
                n=$((n + 1))
            done
            kill $pid; wait $pid
            """
        let result = try run("unshare", ["-m", "--propagation", "private", "sh", "-c", script], environment: cLocale)
        #expect(result.status == 0, "\(result.err)")
        // Each report with its times of day blanked (they differ by the seconds between runs).
        var reports: [String: [String]] = [:]
        for block in result.out.components(separatedBy: "== ").dropFirst() {
            let lines = block.split(separator: "\n", omittingEmptySubsequences: false)
            reports[String(lines[0])] = lines.dropFirst().map { line in
                line.count > 11 && line.dropFirst(2).first == ":" ? "hh:mm:ss   " + line.dropFirst(11) : String(line)
            }
        }
        let meminfoValues = try String(contentsOfFile: meminfo, encoding: .utf8).split(separator: "\n")
            .reduce(into: [String: Int]()) { values, line in
                let fields = line.split(separator: " ")
                values[String(fields[0].dropLast())] = Int(fields[1])
            }
        for flags in ["-r", "-r ALL", "-B"] {
            let sar = try #require(reports["sar \(flags)"])
            #expect(sar.contains { $0.hasPrefix("Average:") }, "sar \(flags) gave a report")
            #expect(reports["memctl --sysstat-12.6 \(flags)"] == sar, "sar \(flags):\n\(sar.joined(separator: "\n"))")
            guard flags != "-B", let mine = reports["memctl \(flags)"], mine.count == sar.count else { continue }
            // sysstat 12.7.9's formula: kbmemused = MemTotal - MemAvailable; every other cell as 12.6.
            let total = meminfoValues["MemTotal"] ?? 0
            let used = total - (meminfoValues["MemAvailable"] ?? 0)
            for (ours, theirs) in zip(mine, sar).dropFirst(3) where !theirs.isEmpty {
                let a = ours.split(separator: " ")
                let b = theirs.split(separator: " ")
                #expect(a.count == b.count && a.count > 4)
                guard a.count == b.count, a.count > 4 else { continue }
                #expect(Int(a[3]) == used, "kbmemused \(a[3]) is MemTotal - MemAvailable = \(used)")
                #expect(a[4] == Format2.percent(Double(used) / Double(total) * 100))
                #expect(Array(a[0..<3] + a[5...]) == Array(b[0..<3] + b[5...]))
            }
        }
    }

    @Test func pagingRatesAreCountsOverHundredths() throws {
        // A rate is a counter's change over the interval in hundredths of a second (sar's S_VALUE):
        // one second is 100 hundredths, so whole numbers, or with the sample late, multiples of
        // 100/itv, the same itv for every counter of the row.
        let memd = try MemdHarness()
        defer { memd.stop() }
        let memctl = productsDirectory.appendingPathComponent("memctl").path
        let mine = try run(memctl, ["--socket", memd.socketPath, "sar", "-B", "1", "3"], environment: cLocale)
        #expect(mine.status == 0, "\(mine.err)")
        for row in Self.rows(mine.out).dropFirst().filter({ !$0.label.hasPrefix("Average") }) {
            // One interval (in hundredths, late by up to 2 s on a loaded host) for all eight rates.
            let rates = row.cells.prefix(8).compactMap(Double.init)
            let interval = (95...300).first { itv in
                rates.allSatisfy { rate in
                    let count = rate * Double(itv) / 100
                    return abs(count - count.rounded()) <= 0.005 * Double(itv) / 100 + 1e-9
                }
            }
            #expect(rates.count == 8 && interval != nil, "\(row.cells): counts over one interval")
        }
    }

    /// Ctrl-C ends a run with no count as sar's does, at once: a blank line, then the Average: row.
    @Test func interruptPrintsTheAverage() throws {
        let memd = try MemdHarness()
        defer { memd.stop() }
        let memctl = productsDirectory.appendingPathComponent("memctl").path
        let output = memd.directory.appendingPathComponent("sar.out").path
        // SIGINT half an interval after the second row (banner, blank, header, 2 rows: 5 lines).
        let script = """
            : >"$2"; "$0" --socket "$1" sar -r 1 >>"$2" & p=$!
            i=0; while [ "$(wc -l <"$2")" -lt 5 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
            sleep 0.5; kill -INT $p; wait $p; s=$?; cat "$2"; exit $s
            """
        let result = try run("sh", ["-c", script, memctl, memd.socketPath, output], environment: cLocale)
        #expect(result.status == 0, "\(result.err)")
        let lines = result.out.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 8, "\(result.out)")  // banner, blank, header, 2 rows, blank, Average, end
        #expect(lines.dropLast().last?.hasPrefix("Average:") == true && lines.dropLast(2).last == "")
    }

    @Test func wordsAfterTheFlagAreChecked() throws {
        let memctl = productsDirectory.appendingPathComponent("memctl").path
        let bad = try run(memctl, ["--socket", "/nonexistent.sock", "sar", "-r", "soon"])
        #expect(bad.status == 2 && bad.err.contains("the interval must be a whole number"), "\(bad.err)")
        let all = try run(memctl, ["--socket", "/nonexistent.sock", "sar", "-B", "ALL"])
        #expect(all.status == 2 && all.err.contains("ALL goes with -r"), "\(all.err)")
    }
}

enum Format2 {
    /// printf's "%.2f".
    static func percent(_ value: Double) -> Substring {
        Substring(String(format: "%.2f", value))
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
        // time's lines (tab-led) and its status line; not what the command itself wrote (dd's).
        func timeLines(_ text: String) -> [(String, String)] {
            Self.lines(text).filter { $0.0.hasPrefix("\t") || $0.0.hasPrefix("Command ") }
        }
        let theirs = timeLines(time.err)
        let ours = timeLines(mine.err)
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
            // The child's high-water mark counts what it held between fork and exec: memctl's own
            // anonymous pages, a sanitizer's shadow among them in such a build (28 MB under TSan).
            if label == "\tMaximum resident set size (kbytes)", let x = Double(a), let y = Double(b),
                Sanitizer.checksResidentMemory("the command's max rss, \(a) vs time's \(b) kB")
            {
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
