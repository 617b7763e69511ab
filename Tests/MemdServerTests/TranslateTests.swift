import Foundation
import JSONRPC
import MemdProtocol
import Testing

/// A python3 child that maps 16 anonymous pages, writes pages 0, 2 and 5, prints the address and waits.
final class TouchedPagesChild {
    static let pages = 16
    static let written: Set<Int> = [0, 2, 5]
    let process = Process()
    let address: UInt64

    init(asNobody: Bool = false) throws {
        let script = """
            import mmap, ctypes, sys
            m = mmap.mmap(-1, 16 * 4096, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
            for i in (0, 2, 5): m[i * 4096] = 1
            print(hex(ctypes.addressof(ctypes.c_char.from_buffer(m))), flush=True)
            sys.stdin.read()
            """
        if asNobody {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", script]
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = ["-c", script]
        }
        let out = Pipe()
        process.standardOutput = out
        process.standardInput = Pipe()
        try process.run()
        var line: [UInt8] = []
        let fd = out.fileHandleForReading.fileDescriptor
        var byte: UInt8 = 0
        while Glibc.read(fd, &byte, 1) == 1, byte != 0x0A { line.append(byte) }
        address = hexValue(.string(String(decoding: line, as: UTF8.self)))
    }

    var pid: Int { Int(process.processIdentifier) }

    deinit {
        // SIGKILL: the test runner's threads block SIGTERM, and the child inherits that mask.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// The indices of an address, by hand: 9 bits per level above a 12-bit offset.
func expectedIndices(_ a: UInt64) -> JSON {
    [
        "pml4": .int(Int((a >> 39) & 511)), "pdpt": .int(Int((a >> 30) & 511)), "pd": .int(Int((a >> 21) & 511)),
        "pt": .int(Int((a >> 12) & 511)), "offset": .int(Int(a & 4095)),
    ]
}

@Suite(.serialized) struct TranslateTests {
    /// The addresses probed: the 16 pages at offset 0x123, and one address no mapping covers.
    func probes(_ base: UInt64) -> [JSON] {
        (0..<TouchedPagesChild.pages).map { JSON.hex(base + UInt64($0) * 4096 + 0x123) } + ["0x10"]
    }

    @Test func realProcessAgreesWithTheKernel() throws {
        let memd = try MemdHarness()
        let client = try memd.client()
        let child = try TouchedPagesChild()
        let result: JSON
        do {
            result = try call(
                client,
                "simulateTranslation",
                [
                    "pid": .int(child.pid), "addresses": .array(probes(child.address)), "trace": true,
                ]
            )
        } catch {
            FileHandle.standardError.write(memd.stderr.fileHandleForReading.availableData)
            throw error
        }
        #expect(result["source"] == "proc")
        let translations = try #require(result["translations"]?.arrayValue)
        #expect(translations.count == 17)
        for (page, t) in translations.prefix(16).enumerated() {
            let address = child.address + UInt64(page) * 4096 + 0x123
            let present = TouchedPagesChild.written.contains(page)
            #expect(t["address"] == .hex(address))
            #expect(t["vpn"] == .int(Int(address >> 12)))
            #expect(t["indices"] == expectedIndices(address))
            #expect(t["present"] == .bool(present), "page \(page)")
            #expect(t["outcome"] == (present ? "translated" : "notPresent"), "page \(page)")
            #expect(
                hexValue(t["mapping"]?["start"]) <= child.address
                    && hexValue(t["mapping"]?["end"]) >= child.address + 65536
            )
            #expect(t["mapping"]?["perms"] == "rw-p")
            #expect(t["walk"]?.arrayValue?.first?["level"] == "pagemap")
            if present {
                #expect(t["exclusive"] == true && t["fileOrSharedAnon"] == false)
                // Root client: the frame is visible, and the physical address keeps the offset.
                if let pfn = t["pfn"]?.intValue {
                    #expect(hexValue(t["physicalAddress"]) == UInt64(pfn) << 12 | 0x123)
                }
            } else {
                #expect(t["pfn"] == .null && t["physicalAddress"] == .null)
            }
        }
        let stray = translations[16]
        #expect(stray["outcome"] == "segv" && stray["mapping"] == .null && stray["present"] == false)
        #expect(result["summary"]?["outcomes"]?["translated"] == 3)
        #expect(result["summary"]?["outcomes"]?["notPresent"] == 13)
        #expect(result["summary"]?["outcomes"]?["segv"] == 1)
        // A pattern over the same pages gives the same counts, summary only.
        let pattern = try call(
            client,
            "simulateTranslation",
            [
                "pid": .int(child.pid), "summaryOnly": true,
                "pattern": ["start": .hex(child.address), "length": 65536, "count": 160, "order": "sequential"],
            ]
        )
        #expect(pattern["translations"] == nil)
        #expect(
            pattern["summary"]?["outcomes"]?["translated"] == 30
                && pattern["summary"]?["outcomes"]?["notPresent"] == 130
        )
        expectError(
            client,
            "simulateTranslation",
            ["pid": 999_999_999, "addresses": ["0x1000"]],
            code: -32001,
            kind: "processNotFound"
        )
        memd.stop()
    }

    @Test func nonRootClientSeesNoFrames() throws {
        guard getuid() == 0 else { return }
        let memd = try MemdHarness(["--socket-mode", "0666"])
        let child = try TouchedPagesChild(asNobody: true)
        let memctl = productsDirectory.appendingPathComponent("memctl").path
        let addresses = JSONWriter.string(.array(probes(child.address)))
        let r = try run(
            "setpriv",
            [
                "--reuid=65534", "--regid=65534", "--clear-groups", memctl, "--socket", memd.socketPath,
                "call", "simulateTranslation", "--pid", "\(child.pid)", "--addresses", addresses,
            ]
        )
        #expect(r.status == 0, "\(r.err)")
        let translations = try JSONParser.parse(r.out)["translations"]?.arrayValue ?? []
        #expect(translations.count == 17)
        for (page, t) in translations.prefix(16).enumerated() {
            #expect(t["present"] == .bool(TouchedPagesChild.written.contains(page)))
            #expect(t["pfn"] == .null && t["physicalAddress"] == .null)
        }
        // Nobody may not look at a root process.
        let denied = try run(
            "setpriv",
            [
                "--reuid=65534", "--regid=65534", "--clear-groups", memctl, "--socket", memd.socketPath,
                "call", "simulateTranslation", "--pid", "1", "--addresses", "[4096]",
            ]
        )
        #expect(denied.status == 1 && denied.err.contains("-32002"), "\(denied.err)")
        memd.stop()
    }

    @Test func simulatedProcessAgreesWithTheRealOne() throws {
        let memd = try MemdHarness()
        let client = try memd.client()
        let child = try TouchedPagesChild()
        let real = try call(
            client,
            "simulateTranslation",
            ["pid": .int(child.pid), "addresses": .array(probes(child.address))]
        )

        // The same steps in the simulator: map 16 pages, write pages 0, 2, 5.
        let m = try #require(try call(client, "sim.create")["machine"])
        _ = try call(client, "sim.spawn", ["machine": m])
        let base = hexValue(
            try call(client, "sim.mmap", ["machine": m, "pid": 1, "length": 65536, "prot": "rw-"])["address"]
        )
        for page in TouchedPagesChild.written.sorted() {
            let t = try call(
                client,
                "sim.touch",
                [
                    "machine": m, "pid": 1, "address": .hex(base + UInt64(page) * 4096), "length": 1, "access": "write",
                ]
            )
            #expect(t["minorFaults"] == 1)
        }
        let sim = try call(
            client,
            "simulateTranslation",
            [
                "machine": m, "pid": 1, "addresses": .array(probes(base)), "dryRun": true, "trace": true,
            ]
        )
        #expect(sim["source"] == "sim")
        let realT = try #require(real["translations"]?.arrayValue)
        let simT = try #require(sim["translations"]?.arrayValue)
        #expect(realT.count == simT.count)
        for (page, (r, s)) in zip(realT, simT).prefix(16).enumerated() {
            #expect(r["present"] == s["present"], "page \(page): real \(r["present"]!) sim \(s["present"]!)")
            #expect(r["outcome"] == s["outcome"], "page \(page)")
            #expect(r["indices"]?["offset"] == s["indices"]?["offset"])
            #expect(s["indices"] == expectedIndices(hexValue(s["address"])))
            #expect(r["mapping"]?["perms"] == s["mapping"]?["perms"])
            // The simulated walk: four levels, the leaf entry's frame is the pfn.
            let walk = try #require(s["walk"]?.arrayValue)
            #expect(walk.map { $0["level"] } == ["pml4", "pdpt", "pd", "pt"])
            #expect(walk.map { $0["index"] } == ["pml4", "pdpt", "pd", "pt"].map { s["indices"]?[$0] })
            if s["present"] == true {
                #expect((hexValue(walk[3]["entry"]) & 0x000f_ffff_ffff_f000) >> 12 == UInt64(Format.int(s["pfn"])))
                #expect(walk[3]["flags"]?.arrayValue?.contains("dirty") == true)
            }
        }
        #expect(realT[16]["outcome"] == "segv" && simT[16]["outcome"] == "segv")

        // Without dryRun the first access to page 1 is a fault, the second a TLB hit.
        let page1: JSON = .hex(base + 4096)
        let live = try call(
            client,
            "simulateTranslation",
            ["machine": m, "pid": 1, "addresses": [page1, page1], "access": "write"]
        )
        let outcomes = live["translations"]?.arrayValue?.map { $0["outcome"] }
        #expect(outcomes == ["minorFault", "tlbHit"])
        #expect(live["summary"]?["tlbHits"] == 1 && live["summary"]?["tlbMisses"] == 1)
        // Kernel half: supervisor-only, segv from user mode, translated in kernel mode.
        let kernel: JSON = "0xffff888000001000"
        let user = try call(
            client,
            "simulateTranslation",
            ["machine": m, "pid": 1, "addresses": [kernel], "dryRun": true]
        )
        #expect(user["translations"]?.arrayValue?.first?["outcome"] == "segv")
        let k = try call(
            client,
            "simulateTranslation",
            ["machine": m, "pid": 1, "addresses": [kernel], "mode": "kernel", "dryRun": true]
        )
        #expect(
            k["translations"]?.arrayValue?.first?["outcome"] == "translated"
                && k["translations"]?.arrayValue?.first?["pfn"] == 1
        )
        memd.stop()
    }

    @Test func tenMillionAccessPatternIsSummarised() throws {
        let memd = try MemdHarness()
        let client = try memd.client()
        let m = try #require(try call(client, "sim.create", ["physicalBytes": .int(256 * MiB)])["machine"])
        _ = try call(client, "sim.spawn", ["machine": m])
        let base = try call(client, "sim.mmap", ["machine": m, "pid": 1, "length": .int(64 * MiB), "prot": "rw-"])[
            "address"
        ]!
        let result = try call(
            client,
            "simulateTranslation",
            [
                "machine": m, "pid": 1, "access": "write",
                "pattern": [
                    "start": base, "length": .int(64 * MiB), "count": 10_000_000, "order": "random", "seed": 42,
                ],
            ]
        )
        #expect(result["translations"] == nil)
        let summary = try #require(result["summary"])
        #expect(summary["count"] == 10_000_000)
        let outcomes = try #require(summary["outcomes"]?.objectValue)
        #expect(outcomes.members.reduce(0) { $0 + ($1.value.intValue ?? 0) } == 10_000_000)
        #expect(Format.int(summary["tlbHits"]) + Format.int(summary["tlbMisses"]) == 10_000_000)
        // Every page of 64 MiB was hit at least once by 10M random accesses: 16,384 first-touch faults.
        #expect(outcomes["minorFault"] == 16_384)
        #expect(try call(client, "pageStats", ["source": "sim", "machine": m, "pid": 1])["rss"] == .int(64 * MiB))
        // Over 100,000 addresses the translations are left out even when not asked.
        let seq = try call(
            client,
            "simulateTranslation",
            [
                "machine": m, "pid": 1,
                "pattern": ["start": base, "length": .int(64 * MiB), "count": 100_001, "order": "sequential"],
            ]
        )
        #expect(seq["translations"] == nil && seq["summary"]?["count"] == 100_001)
        // A stride pattern lists each translation at most 100,000.
        let stride = try call(
            client,
            "simulateTranslation",
            [
                "machine": m, "pid": 1,
                "pattern": ["start": base, "length": 8192, "count": 4, "order": "stride", "stride": 4096],
            ]
        )
        let addresses = stride["translations"]?.arrayValue?.map { hexValue($0["address"]) }
        let b = hexValue(base)
        #expect(addresses == [b, b + 4096, b, b + 4096])
        memd.stop()
    }

    @Test func largePatternIsCancellable() throws {
        let memd = try MemdHarness()
        let client = try memd.client()
        let m = try #require(try call(client, "sim.create", ["physicalBytes": .int(64 * MiB)])["machine"])
        _ = try call(client, "sim.spawn", ["machine": m])
        let base = try call(client, "sim.mmap", ["machine": m, "pid": 1, "length": .int(1 << 30), "prot": "rw-"])[
            "address"
        ]!
        let request: JSON = [
            "jsonrpc": "2.0", "id": 9, "method": "simulateTranslation",
            "params": [
                "machine": m, "pid": 1, "dryRun": true,
                "pattern": ["start": base, "length": .int(1 << 30), "count": 10_000_000, "order": "random", "seed": 7],
            ],
        ]
        try client.send(Array(JSONWriter.string(request).utf8) + [0x0A])
        usleep(50_000)
        // The event loop is free meanwhile: another connection is answered at once.
        let other = try memd.client()
        let start = Date()
        _ = try call(other, "meminfo")
        #expect(Date().timeIntervalSince(start) < 0.5)
        try client.send(Array(#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":9}}"#.utf8) + [0x0A])
        let line = try JSONParser.parse(try client.readLine())
        // Either cancelled in flight, or it had already finished (a fast machine).
        if line["error"] != nil { #expect(line["error"]?["code"] == -32006) }
        memd.stop()
    }
}
