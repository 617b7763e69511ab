import Foundation
import JSONRPC
import TestSupport
import Testing

/// limits.md §3, fair shares and backpressure on every write: one uid (nobody) attacks with legal
/// calls only, another uid (daemon) times `meminfo` and a `maps` of its own process meanwhile.
/// Each attack runs a few seconds (scripts/soak runs them all at once, for minutes); the attacks
/// themselves are Tests/Helpers/fairness.py, shared with the soak.
@Suite(.serialized) struct FairnessTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Helpers/fairness.py").path

    /// The brief's bounds for the bystander: `meminfo` p99 ≤ 100 ms, `maps` of its own process ≤ 500 ms —
    /// what the attack may add to what the machine's own load costs the same calls, measured just
    /// before it with no attack (a few ms on a quiet machine; on a CI box shared with builds, more).
    /// Under a sanitizer the attackers' calls cost it that many times more CPU: the bounds scale.
    static let meminfoBoundMs = Sanitizer.scaled(100.0)
    static let mapsBoundMs = Sanitizer.scaled(500.0)

    /// Runs `attacks` against a new memd for `seconds`; fairness.py's figures.
    func attack(
        _ attacks: [String],
        seconds: Int = 8,
        memdArguments: [String] = [],
        bystanderUID: Int = 1
    ) throws -> JSON {
        let memd = try MemdHarness(["--socket-mode", "0666"] + memdArguments)
        defer { memd.stop() }
        let result = try run(
            "python3",
            [
                Self.script, "run", "--socket", memd.socketPath, "--memd-pid", "\(memd.process.processIdentifier)",
                "--seconds", "\(seconds)", "--bystander-uid", "\(bystanderUID)",
            ] + attacks
        )
        #expect(result.status == 0, "\(result.err)")
        #expect(memd.process.isRunning, "memd ended during the attack")
        return try JSONParser.parse(result.out)
    }

    /// The bystander got every reply, within the bounds.
    func expectBystanderServed(_ figures: JSON, sourceLocation: SourceLocation = #_sourceLocation) {
        let bystander = figures["bystander"]
        #expect(
            bystander?["failures"] == 0,
            "bystander: \(bystander?["failed"] ?? .null)",
            sourceLocation: sourceLocation
        )
        let meminfo = bystander?["latencyMs"]?["meminfo"]
        let maps = bystander?["latencyMs"]?["maps"]
        let alone = figures["baseline"]?["latencyMs"]
        let meminfoBound = Self.meminfoBoundMs + (alone?["meminfo"]?["p99"]?.doubleValue ?? 0)
        let mapsBound = Self.mapsBoundMs + (alone?["maps"]?["p99"]?.doubleValue ?? 0)
        print(
            "bystander p99 under attack (alone): meminfo \(meminfo?["p99"] ?? .null) (\(alone?["meminfo"]?["p99"] ?? .null)) ms, "
                + "maps \(maps?["p99"] ?? .null) (\(alone?["maps"]?["p99"] ?? .null)) ms; attackers \(figures["attackers"] ?? .null)"
        )
        #expect(
            (meminfo?["n"]?.intValue ?? 0) > 20,
            "too few meminfo calls: \(figures)",
            sourceLocation: sourceLocation
        )
        #expect(
            (meminfo?["p99"]?.doubleValue ?? .infinity) <= meminfoBound,
            "bystander meminfo \(meminfo ?? .null) (alone: \(alone?["meminfo"] ?? .null)) under \(figures["attackers"] ?? .null)",
            sourceLocation: sourceLocation
        )
        #expect(
            (maps?["p99"]?.doubleValue ?? .infinity) <= mapsBound,
            "bystander maps \(maps ?? .null) (alone: \(alone?["maps"] ?? .null)) under \(figures["attackers"] ?? .null)",
            sourceLocation: sourceLocation
        )
    }

    func attacked() -> Bool { getuid() == 0 }  // dropping to two other uids needs root

    @Test func simulatorCallsOnEveryMachineLeaveOthersTheirShare() throws {
        guard attacked() else { return }
        let figures = try attack(["sim"])
        expectBystanderServed(figures)
        #expect((figures["attackers"]?["sim"]?["answered"]?.intValue ?? 0) > 0, "\(figures)")
    }

    @Test func watchesWithPSSOverHundredsOfProcessesLeaveOthersTheirShare() throws {
        guard attacked() else { return }
        let figures = try attack(["watch"], seconds: 10)
        expectBystanderServed(figures)
        #expect(figures["attackers"]?["watch"]?["error"] == nil, "\(figures)")
        // The attacker's own 16 watches share its threads: each sample takes longer than the
        // 100 ms interval, and is sent late rather than dropped (a watch never goes silent).
        let samples = max(1, Int(8 / Sanitizer.slowdown))
        #expect((figures["attackers"]?["watch"]?["sample"]?.intValue ?? 0) >= samples, "\(figures)")
        // The descriptors watches keep open are shared per uid too: one uid keeps at most a quarter
        // of the watches' quarter of RLIMIT_NOFILE (16 watches × 600 processes would take them all).
        let perUID = min(16_384, try openFilesLimit() / 4) / 4
        // Beside those kept, a sample in progress opens a few for the processes beyond the share.
        let open = figures["procDescriptorsPeak"]?.intValue ?? .max
        #expect(
            open > 0 && open <= perUID + 100,
            "memd held \(open) /proc descriptors for one uid (its share: \(perUID))"
        )
    }

    @Test func batchesOfDiscoverDoNotHoldTheEventLoops() throws {
        guard attacked() else { return }
        let figures = try attack(["discover", "bigline", "pipeline"])
        expectBystanderServed(figures)
        #expect((figures["attackers"]?["discover"]?["batches"]?.intValue ?? 0) > 0, "\(figures)")
        #expect((figures["attackers"]?["bigline"]?["refused"]?.intValue ?? 0) > 0, "\(figures)")
    }

    /// On 8 connections, 8 lines each of 200-entry rpc.discover batches (12 MB of replies a line,
    /// 768 MB in all), never read: the uid holds at most `4 × --max-response-bytes` of unsent
    /// replies, and memd gives the memory back when the clients go.
    @Test func clientsThatNeverReadCostBoundedMemoryAndGiveItBack() throws {
        guard attacked() else { return }
        let maxResponse = 16 << 20
        let figures = try attack(["noread"], seconds: 6, memdArguments: ["--max-response-bytes", "\(maxResponse)"])
        expectBystanderServed(figures)
        let rss = figures["anonMiB"]  // what memd holds, not the pages of its binary it ran
        guard Sanitizer.checksResidentMemory("memd's peak and kept anonymous memory, \(rss ?? .null) MiB") else {
            return
        }
        let before = rss?["before"]?.doubleValue ?? 0
        let peak = rss?["peak"]?.doubleValue ?? .infinity
        let after = rss?["after"]?.doubleValue ?? .infinity
        // The uid's unsent bytes (4 × 32 MiB), one response being built per pool thread of the uid
        // (4 × 32 MiB), and the bookkeeping around them.
        #expect(peak - before <= Double(8 * (maxResponse >> 20) + 64), "memd grew \(rss ?? .null)")
        #expect(after - before <= 32, "memd kept \(after - before) MiB after the client left: \(rss ?? .null)")
    }

    /// A uid over `--max-response-bytes` of unsent responses gets none of its calls started (on any of
    /// its connections) until its clients read; a response that would take it past 4 × that is
    /// replaced by `-32003 unsentBytes`.
    @Test func aUIDOverItsUnsentBytesWaitsAndPastTheBoundGetsUnsentBytes() throws {
        let maxResponse = 16 << 20
        let memd = try MemdHarness(["--max-response-bytes", "\(maxResponse)"])
        defer { memd.stop() }
        // Seven 200-entry rpc.discover batches (12 MB each) on seven connections, none read: 84 MB
        // would wait, more than 4 × 16 MiB.
        let batch =
            "["
            + (0..<200).map { #"{"jsonrpc":"2.0","id":\#($0),"method":"rpc.discover"}"# }
            .joined(separator: ",") + "]\n"
        let readers = try (0..<7).map { _ in try memd.client() }
        for reader in readers { try reader.send(Array(batch.utf8)) }  // all planned before any is sent
        usleep(useconds_t(Sanitizer.scaled(500_000.0)))
        // The uid is over 16 MiB: a meminfo on a fresh connection is not started…
        let late = try memd.client()
        late.setReadTimeout(seconds: Sanitizer.scaled(1))
        try late.send(Array(#"{"jsonrpc":"2.0","id":"late","method":"meminfo"}"#.utf8) + [0x0A])
        var early: [UInt8]?  // its answer, if it came too soon (read once: the check below uses it)
        #expect(throws: (any Error).self, "a call of a uid over its unsent bytes was started") {
            early = try late.readLine()
        }
        // …until the others are read. Past the bound, a batch's response became unsentBytes. All are
        // read at once: a batch memd had not started before the uid went over waits for the others to
        // be read (the rule above), so reading them one after another could wait on it for ever.
        let replies = readers.map { reader in
            nonisolated(unsafe) let reader = reader
            return started { try reader.readLine() }
        }
        var replaced = 0
        for reply in replies {
            let reply = try JSONParser.parse(try reply())
            if let error = reply["error"] {
                #expect(error["code"] == -32003 && error["data"]?["resource"] == "unsentBytes", "\(error)")
                #expect(error["data"]?["limit"]?.intValue == 4 * maxResponse)
                replaced += 1
            } else {
                #expect(reply.arrayValue?.count == 200)
            }
        }
        #expect(replaced >= 1, "84 MB of unsent replies, none replaced")
        late.setReadTimeout(seconds: Sanitizer.scaled(20))
        let answer = try JSONParser.parse(try early ?? late.readLine())
        #expect(answer["id"] == "late" && answer["result"]?["total"] != nil, "\(answer)")
    }

    /// Large `maps` with detail on every connection: each call offers its read-ahead and its
    /// smaps_rollup to other threads, taken only by idle ones within the attacker's share.
    @Test func largeMapsOnEveryConnectionLeaveOthersTheirShare() throws {
        guard attacked() else { return }
        let figures = try attack(["bigmaps"])
        expectBystanderServed(figures)
        #expect((figures["attackers"]?["bigmaps"]?["answered"]?.intValue ?? 0) > 0, "\(figures)")
        #expect(figures["attackers"]?["bigmaps"]?["error"] == nil, "\(figures)")
    }

    @Test func usageHalfClosersAndChurnLeaveOthersTheirShare() throws {
        guard attacked() else { return }
        let figures = try attack(["usage", "halfclose", "churn"])
        expectBystanderServed(figures)
        #expect(figures["attackers"]?["halfclose"]?["lost"] == nil, "a half-closer lost a reply: \(figures)")
        // Tens of thousands of connections come and go: what memd keeps of them is nothing (a
        // connection that stayed in memory after it closed cost ~5 KB: 120 MB in 8 s).
        let connections = figures["attackers"]?["churn"]?["connections"]?.intValue ?? 0
        #expect(Double(connections) > 1000 / Sanitizer.slowdown, "only \(connections) connections came and went")
        let rss = figures["anonMiB"]
        guard Sanitizer.checksResidentMemory("memd's anonymous memory kept after the churn, \(rss ?? .null) MiB") else {
            return
        }
        let kept = (rss?["after"]?.doubleValue ?? .infinity) - (rss?["before"]?.doubleValue ?? 0)
        #expect(kept <= 16, "memd kept \(kept) MiB after \(connections) connections")
    }
}

/// This process's soft RLIMIT_NOFILE, as /proc/self/limits says (memd, its child, inherits it).
func openFilesLimit() throws -> Int {
    let line = try readProc("/proc/self/limits").split(separator: "\n").first { $0.hasPrefix("Max open files") }
    let soft = line?.split(separator: " ", omittingEmptySubsequences: true).dropFirst(3).first
    return min(Int(soft ?? "") ?? 65_536, 65_536)
}
