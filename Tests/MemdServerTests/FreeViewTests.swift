import Foundation
import JSONRPC
import Testing

/// `memctl free` against procps's `free` to the character, on the same /proc/meminfo: a seeded
/// series of made-up meminfo files, each bind-mounted over /proc/meminfo in a private mount
/// namespace where both memd and free read it.
@Suite(.serialized) struct FreeViewTests {
    /// Sizes in kB around every boundary of free's rounding: 0, the B/Ki edge, %.1f → %ld, 999 →
    /// next unit, exact halves (1.25 Mi is 1280 kB), and plain random ones.
    static func sizes(seed: UInt64, count: Int) -> [Int] {
        var state = seed
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 17
        }
        let edges = [
            0, 1, 9, 10, 99, 100, 999, 1000, 1023, 1024, 1280, 1536, 10188, 10189, 10239, 10240,
            102_348, 1_022_976, 1_023_999, 1_048_576, 24_684_084, 10_433_331, 1_610_612,
        ]
        return (0..<count).map { index in
            if index < edges.count { return edges[index] }
            let magnitude = Int(next() % 9)
            var value = Int(next() % 1000)
            for _ in 0..<magnitude { value = value * 10 + Int(next() % 10) }
            return value
        }
    }

    @Test func freeMatchesProcpsToTheCharacter() throws {
        guard getuid() == 0, (try? run("unshare", ["-m", "true"]))?.status == 0 else { return }
        let seed = UInt64(ProcessInfo.processInfo.environment["MEMD_TEST_SEED"] ?? "") ?? 20_261_129
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("memd-free-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let real = try readProc("/proc/meminfo")
        let sizes = Self.sizes(seed: seed, count: 60)
        var files: [String] = []
        for case_ in 0..<20 {
            func pick(_ k: Int) -> Int { sizes[(case_ * 7 + k * 3) % sizes.count] }
            let total = max(pick(0), 1) * 4
            let values: [String: Int] = [
                "MemTotal": total, "MemFree": pick(1) % (total + 1), "MemAvailable": pick(2) % (total + 1),
                "Buffers": pick(3), "Cached": pick(4), "SReclaimable": pick(5), "Shmem": pick(6),
                "SwapTotal": pick(7) * 2, "SwapFree": pick(7),
            ]
            let text =
                real.split(separator: "\n").map { line -> String in
                    let key = String(line.prefix { $0 != ":" })
                    guard let value = values[key] else { return String(line) }
                    return key + ":" + String(repeating: " ", count: max(1, 15 - key.count - String(value).count))
                        + String(value) + " kB"
                }.joined(separator: "\n") + "\n"
            let path = directory.appendingPathComponent("meminfo-\(case_)").path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            files.append(path)
        }
        let bin = productsDirectory.path
        let socket = directory.appendingPathComponent("memd.sock").path
        // A memd per file: memd keeps /proc/meminfo open (ProcFS.KeptOpen), so it reads the file
        // that was mounted when it started.
        let script = """
            for f in "$@"; do
                mount --bind "$f" /proc/meminfo || exit 1
                rm -f "\(socket)"
                "\(bin)/memd" --socket "\(socket)" --log-level error >/dev/null 2>&1 </dev/null & pid=$!
                for i in $(seq 200); do [ -S "\(socket)" ] && break; sleep 0.02; done
                flags="-h -b -k -m -g"
                # Every other flag of procps's free on a few of the files (flags joined by +).
                case "$f" in *-[0-3]) flags="$flags -w -t -l -v --si -h+--si --kilo --mega --giga --tera --peta
                    --tebi --pebi -w+-t+-l+-v+-h -c+2+-s+0.1";; esac
                for flag in $flags; do
                    words=$(echo "$flag" | tr + ' ')
                    echo "== $f $flag"; free $words
                    echo "-- memctl"; "\(bin)/memctl" --socket "\(socket)" free $words
                done
                kill $pid; wait $pid
                umount /proc/meminfo
            done
            """
        let result = try run("unshare", ["-m", "--propagation", "private", "sh", "-c", script, "sh"] + files)
        #expect(result.status == 0, "\(result.err)")
        let blocks = result.out.components(separatedBy: "== ").dropFirst()
        #expect(blocks.count == files.count * 5 + 4 * 15)
        for block in blocks {
            let parts = block.components(separatedBy: "-- memctl\n")
            guard parts.count == 2 else {
                Issue.record("malformed block \(block)")
                continue
            }
            let title = parts[0].prefix { $0 != "\n" }
            let free = parts[0].split(separator: "\n", omittingEmptySubsequences: false).dropFirst()
                .joined(separator: "\n")
            let memctl = parts[1]
            #expect(memctl == free, "seed \(seed), \(title):\nfree:\n\(free)\nmemctl:\n\(memctl)")
        }
    }
}

/// `memctl sar` laid out as sysstat's `sar` prints it, side by side on this host (values differ:
/// two samplings; the layout, the banner and the `Average:` row must not).
@Suite(.serialized) struct SarViewTests {
    /// Every line of a sar report, as (label, cells).
    static func rows(_ text: String) -> [(String, [String])] {
        text.split(separator: "\n").dropFirst(1).map { line in
            let fields = line.split(separator: " ").map(String.init)
            return (fields.first ?? "", Array(fields.dropFirst()))
        }
    }

    /// The layout sar uses: an 11-column label, then " %9s" per figure.
    static func isSarLine(_ line: Substring, figures: Int) -> Bool {
        guard line.count == 11 + 10 * figures else { return false }
        let label = line.prefix(11)
        return (label.hasPrefix("Average:") || label.dropFirst(2).first == ":") && label.hasSuffix("   ")
    }

    @Test(arguments: ["-r", "-B"]) func layoutMatchesSysstat(flag: String) throws {
        let memd = try MemdHarness()
        let memctl = productsDirectory.appendingPathComponent("memctl").path
        let environment = ["LC_ALL": "C", "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
        let sar = try run("sar", [flag, "1", "2"], environment: environment)
        let mine = try run(memctl, ["--socket", memd.socketPath, "sar", flag, "1", "2"], environment: environment)
        #expect(sar.status == 0 && mine.status == 0, "\(sar.err) \(mine.err)")
        let sarLines = sar.out.split(separator: "\n", omittingEmptySubsequences: false)
        let myLines = mine.out.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(myLines.first == sarLines.first, "the banner: \(myLines.first ?? "") vs \(sarLines.first ?? "")")
        #expect(myLines.count == sarLines.count && myLines.dropFirst().first == "")
        let figures = flag == "-r" ? 11 : 9
        #expect(myLines[2].dropFirst(8) == sarLines[2].dropFirst(8), "the header")
        for (mineLine, sarLine) in zip(myLines.dropFirst(3), sarLines.dropFirst(3)) where !sarLine.isEmpty {
            #expect(Self.isSarLine(sarLine, figures: figures), "sar itself: \(sarLine)")
            #expect(Self.isSarLine(mineLine, figures: figures), "memctl: \(mineLine)")
            #expect(mineLine.hasPrefix("Average:") == sarLine.hasPrefix("Average:"))
        }
        // The Average row is the mean of the rows above it (to the last printed digit); for -B, as
        // sar computes it, the whole run's change over its whole time: the mean of rates over
        // intervals of 99 to 102 hundredths, within 3%.
        let rows = Self.rows(mine.out).filter { $0.1.count == figures }
        let samples = rows.filter { $0.0 != "Average:" }.dropFirst()  // the header row has names, not numbers
        let average = try #require(rows.last { $0.0 == "Average:" })
        for column in 0..<figures where !(flag == "-B" && column == 8) {
            let mean = samples.reduce(0.0) { $0 + (Double($1.1[column]) ?? .nan) } / Double(samples.count)
            let printed = Double(average.1[column]) ?? .nan
            let tolerance = max(1, abs(mean) * (flag == "-B" ? 0.03 : 1e-3))
            #expect(abs(printed - mean) <= tolerance, "column \(column): \(printed) vs \(mean)")
        }
        memd.stop()
    }
}
