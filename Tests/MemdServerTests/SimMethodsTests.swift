import Foundation
import JSONRPC
import MemdProtocol
import Testing

/// A `0x…` hex string (or an int) as a number.
func hexValue(_ json: JSON?) -> UInt64 {
    if let i = json?.intValue { return UInt64(i) }
    guard let s = json?.stringValue, s.hasPrefix("0x") else { return .max }
    return UInt64(s.dropFirst(2), radix: 16) ?? .max
}

let MiB = 1 << 20

/// The sim.* methods over a real memd: hand-worked numbers and the errors.
@Suite(.serialized) struct SimMethodsTests {
    @Test func demandPagingForkAndCopyOnWrite() throws {
        let memd = try MemdHarness()
        let client = try memd.client()
        let created = try call(client, "sim.create", ["physicalBytes": .int(256 * MiB)])
        #expect(created["source"] == "sim")
        let machine = try #require(created["machine"]?.stringValue)
        #expect(machine.hasPrefix("m"))
        #expect(created["config"]?["physicalBytes"] == .int(256 * MiB))
        #expect(created["config"]?["tlbEntries"] == 64 && created["config"]?["tlbWays"] == 4)
        let m = JSON.string(machine)

        // meminfo: same shape as proc (validated by call), total = physicalBytes.
        let info = try call(client, "meminfo", ["source": "sim", "machine": m])
        #expect(info["source"] == "sim")
        #expect(Format.int(info["total"]) == 256 * MiB)
        #expect(Format.int(info["used"]) + Format.int(info["available"]) == 256 * MiB)

        let spawned = try call(client, "sim.spawn", ["machine": m])
        #expect(spawned["pid"] == 1)
        let kinds = spawned["mappings"]?.arrayValue?.compactMap { $0["kind"]?.stringValue }
        #expect(kinds == ["file", "file", "heap", "stack"])

        let mapped = try call(client, "sim.mmap", ["machine": m, "pid": 1, "length": .int(100 * MiB), "prot": "rw-"])
        let address = hexValue(mapped["address"])
        #expect(address != .max && address % 4096 == 0)

        // Touching 100 MiB for writing: 25,600 pages, each one minor fault, rss 100 MiB.
        let touched = try call(
            client,
            "sim.touch",
            [
                "machine": m, "pid": 1, "address": .int(Int(address)), "length": .int(100 * MiB), "access": "write",
            ]
        )
        #expect(touched["pagesTouched"] == 25_600)
        #expect(touched["minorFaults"] == 25_600)
        #expect(touched["majorFaults"] == 0 && touched["cowFaults"] == 0)
        #expect(touched["rss"] == .int(100 * MiB))
        #expect(touched["segv"] == nil && touched["oomKilled"] == nil)
        let row = try call(client, "pageStats", ["source": "sim", "machine": m, "pid": 1])
        #expect(row["scope"] == "process" && row["rss"] == .int(100 * MiB) && row["minflt"] == 25_600)
        let after = try call(client, "meminfo", ["source": "sim", "machine": m])
        #expect(Format.int(info["free"]) - Format.int(after["free"]) >= 100 * MiB)

        // maps with detail: the mapping holds 100 MiB private dirty.
        let maps = try call(client, "maps", ["source": "sim", "machine": m, "pid": 1, "detail": true])
        let region = try #require(maps["mappings"]?.arrayValue?.first { hexValue($0["start"]) == address })
        #expect(
            region["rss"] == .int(100 * MiB) && region["privateDirty"] == .int(100 * MiB) && region["kind"] == "anon"
        )
        #expect(maps["totals"]?["rss"] == .int(100 * MiB))

        // fork, then the child writes 10 pages: 10 CoW faults (minor), each a page of its own.
        let forked = try call(client, "sim.fork", ["machine": m, "pid": 1])
        #expect(forked["pid"] == 2)
        let cow = try call(
            client,
            "sim.touch",
            [
                "machine": m, "pid": 2, "address": .int(Int(address)), "length": .int(10 * 4096), "access": "write",
            ]
        )
        #expect(cow["pagesTouched"] == 10 && cow["cowFaults"] == 10 && cow["minorFaults"] == 10)
        let child = try call(client, "pageStats", ["source": "sim", "machine": m, "pid": 2])
        #expect(child["minflt"] == 10)
        let all = try call(client, "pageStats", ["source": "sim", "machine": m, "all": true])
        #expect(all["processes"]?.arrayValue?.count == 2)
        let system = try call(client, "pageStats", ["source": "sim", "machine": m])
        #expect(system["counters"]?["pgfault"] == 25_610)
        #expect(system["counters"]?["oomKill"] == 0)

        // Zero page: a first read of fresh anonymous memory faults but adds no rss; a write then CoWs.
        let fresh = try call(client, "sim.mmap", ["machine": m, "pid": 1, "length": .int(10 * 4096), "prot": "rw-"])
        let freshAddress = JSON.hex(hexValue(fresh["address"]))
        let reads = try call(
            client,
            "sim.touch",
            ["machine": m, "pid": 1, "address": freshAddress, "length": .int(40960), "access": "read"]
        )
        #expect(reads["minorFaults"] == 10 && reads["cowFaults"] == 0 && reads["rss"] == .int(100 * MiB))
        let writes = try call(
            client,
            "sim.touch",
            ["machine": m, "pid": 1, "address": freshAddress, "length": .int(40960), "access": "write"]
        )
        #expect(writes["minorFaults"] == 10 && writes["cowFaults"] == 10 && writes["rss"] == .int(100 * MiB + 40960))

        // read / write, utf8 and base64.
        let wrote = try call(
            client,
            "sim.write",
            ["machine": m, "pid": 2, "address": .int(Int(address)), "data": "hello"]
        )
        #expect(wrote["bytesWritten"] == 5)
        let back = try call(client, "sim.read", ["machine": m, "pid": 2, "address": .int(Int(address)), "length": 5])
        #expect(back["data"] == "hello" && back["encoding"] == "utf8")
        let b64 = try call(
            client,
            "sim.read",
            ["machine": m, "pid": 2, "address": .int(Int(address)), "length": 5, "encoding": "base64"]
        )
        #expect(b64["data"] == "aGVsbG8=")
        _ = try call(
            client,
            "sim.write",
            ["machine": m, "pid": 2, "address": .int(Int(address) + 1), "data": "RUxMTw==", "encoding": "base64"]
        )
        #expect(
            try call(client, "sim.read", ["machine": m, "pid": 2, "address": .int(Int(address)), "length": 5])["data"]
                == "hELLO"
        )
        // The parent's copy is untouched (CoW).
        #expect(
            try call(client, "sim.read", ["machine": m, "pid": 1, "address": .int(Int(address)), "length": 1])["data"]
                == "\0"
        )

        // list, exit, munmap, destroy.
        let list = try call(client, "sim.list")
        let summary = try #require(list["machines"]?.arrayValue?.first { $0["machine"] == m })
        #expect(summary["processes"] == 2 && summary["cowFaults"] == 20 && summary["panicked"] == false)
        let exited = try call(client, "sim.exit", ["machine": m, "pid": 2])
        #expect(Format.int(exited["freedPages"]) >= 10)
        expectError(client, "pageStats", ["source": "sim", "machine": m, "pid": 2], code: -32005, kind: "simNotFound")
        let unmapped = try call(
            client,
            "sim.munmap",
            ["machine": m, "pid": 1, "address": .int(Int(address)), "length": .int(100 * MiB)]
        )
        #expect(Format.int(unmapped["freedPages"]) >= 25_600)
        #expect(Format.int(unmapped["freedBytes"]) == Format.int(unmapped["freedPages"]) * 4096)
        #expect(try call(client, "pageStats", ["source": "sim", "machine": m, "pid": 1])["rss"] == .int(40960))
        _ = try call(client, "sim.destroy", ["machine": m])
        expectError(client, "sim.spawn", ["machine": m], code: -32005, kind: "simNotFound")
        #expect(try call(client, "sim.list")["machines"]?.arrayValue?.isEmpty == true)
        memd.stop()
    }

    @Test func mmapOutOfVirtualSpaceIsAResult() throws {
        let memd = try MemdHarness()
        let client = try memd.client()
        let m = try #require(try call(client, "sim.create", ["addressBits": 32])["machine"])
        _ = try call(client, "sim.spawn", ["machine": m])
        let big = try call(client, "sim.mmap", ["machine": m, "pid": 1, "length": .int(5 << 30), "prot": "rw-"])
        #expect(big["address"] == .null && big["errno"] == "ENOMEM")
        // A touch outside every mapping kills the process with SIGSEGV.
        let segv = try call(
            client,
            "sim.touch",
            ["machine": m, "pid": 1, "address": "0x10", "length": 1, "access": "read"]
        )
        #expect(segv["segv"]?["address"] == "0x10")
        expectError(client, "sim.fork", ["machine": m, "pid": 1], code: -32005, kind: "simNotFound")
        memd.stop()
    }

    @Test func errors() throws {
        let memd = try MemdHarness()
        let client = try memd.client()
        expectError(client, "sim.spawn", ["machine": "m999"], code: -32005, kind: "simNotFound")
        expectError(client, "meminfo", ["source": "sim", "machine": "m999"], code: -32005, kind: "simNotFound")
        expectError(
            client,
            "simulateTranslation",
            ["machine": "m999", "pid": 1, "addresses": ["0x1000"]],
            code: -32005,
            kind: "simNotFound"
        )
        let m = try #require(try call(client, "sim.create")["machine"])
        expectError(
            client,
            "sim.touch",
            ["machine": m, "pid": 7, "address": 0, "length": 1, "access": "read"],
            code: -32005,
            kind: "simNotFound"
        )
        _ = try call(client, "sim.spawn", ["machine": m])
        // Bad params: -32602.
        expectError(client, "sim.create", ["physicalBytes": 12345], code: -32602, kind: "invalidParams")
        expectError(client, "sim.create", ["tlbEntries": 64, "tlbWays": 5], code: -32602, kind: "invalidParams")
        expectError(client, "sim.create", ["addressing": "quantum"], code: -32602, kind: "invalidParams")
        expectError(
            client,
            "sim.mmap",
            ["machine": m, "pid": 1, "length": 4096, "prot": "rwz"],
            code: -32602,
            kind: "invalidParams"
        )
        expectError(
            client,
            "sim.mmap",
            ["machine": m, "pid": 1, "length": 0, "prot": "rw-"],
            code: -32602,
            kind: "invalidParams"
        )
        expectError(
            client,
            "sim.touch",
            ["machine": m, "pid": 1, "address": 0, "length": 1, "access": "jump"],
            code: -32602,
            kind: "invalidParams"
        )
        expectError(
            client,
            "sim.read",
            ["machine": m, "pid": 1, "address": 0, "length": 5000],
            code: -32602,
            kind: "invalidParams"
        )
        expectError(
            client,
            "sim.write",
            ["machine": m, "pid": 1, "address": 0, "data": "!!", "encoding": "base64"],
            code: -32602,
            kind: "invalidParams"
        )
        expectError(client, "sim.spawn", ["machine": m, "pdi": 1], code: -32602, kind: "invalidParams")
        expectError(
            client,
            "sim.munmap",
            ["machine": m, "pid": 1, "address": "0x1001", "length": 4096],
            code: -32602,
            kind: "invalidParams"
        )
        expectError(client, "simulateTranslation", ["machine": m, "pid": 1], code: -32602, kind: "invalidParams")
        expectError(
            client,
            "simulateTranslation",
            ["machine": m, "pid": 1, "pattern": ["start": 0, "length": 4096, "count": 1, "order": "stride"]],
            code: -32602,
            kind: "invalidParams"
        )
        // count above 10,000,000: -32003.
        expectError(
            client,
            "simulateTranslation",
            [
                "machine": m, "pid": 1,
                "pattern": ["start": "0x400000", "length": 65536, "count": 10_000_001, "order": "sequential"],
            ],
            code: -32003,
            kind: "resourceLimit"
        )
        // 16 machines per uid: the 17th is -32003.
        for _ in 0..<15 { _ = try call(client, "sim.create", ["physicalBytes": .int(4 * MiB)]) }
        #expect(try call(client, "sim.list")["machines"]?.arrayValue?.count == 16)
        expectError(client, "sim.create", [:], code: -32003, kind: "resourceLimit")
        _ = try call(client, "sim.destroy", ["machine": m])
        _ = try call(client, "sim.create", ["physicalBytes": .int(4 * MiB)])
        memd.stop()
    }

    @Test func panicOnOomMakesEveryCallFail() throws {
        let memd = try MemdHarness()
        let client = try memd.client()
        let m = try #require(
            try call(client, "sim.create", ["physicalBytes": .int(8 * MiB), "panicOnOom": true])["machine"]
        )
        _ = try call(client, "sim.spawn", ["machine": m])
        let address = try call(client, "sim.mmap", ["machine": m, "pid": 1, "length": .int(64 * MiB), "prot": "rw-"])[
            "address"
        ]!
        // The touch that runs out of memory panics the machine (its own answer may already be the error).
        _ = try? client.call(
            "sim.touch",
            ["machine": m, "pid": 1, "address": address, "length": .int(64 * MiB), "access": "write"]
        )
        expectError(client, "sim.spawn", ["machine": m], code: -32004, kind: "unsupported")
        expectError(client, "meminfo", ["source": "sim", "machine": m], code: -32004, kind: "unsupported")
        expectError(
            client,
            "simulateTranslation",
            ["machine": m, "pid": 1, "addresses": [address]],
            code: -32004,
            kind: "unsupported"
        )
        let failure = Result { try client.call("sim.fork", ["machine": m, "pid": 1]) }
        if case .failure(let error) = failure {
            #expect("\(error)".contains("panic"), "\(error)")
        } else {
            Issue.record("sim.fork on a panicked machine answered")
        }
        let row = try #require(try call(client, "sim.list")["machines"]?.arrayValue?.first)
        #expect(row["panicked"] == true)
        _ = try call(client, "sim.destroy", ["machine": m])
        memd.stop()
    }

    @Test func anotherUsersMachineDoesNotExist() throws {
        guard getuid() == 0 else { return }  // the test must be root to become nobody
        let memd = try MemdHarness(["--socket-mode", "0666"])
        let client = try memd.client()
        let mine = try #require(try call(client, "sim.create")["machine"]?.stringValue)
        let memctl = productsDirectory.appendingPathComponent("memctl").path
        func nobody(_ args: [String]) throws -> (out: String, status: Int32, err: String) {
            try run(
                "setpriv",
                ["--reuid=65534", "--regid=65534", "--clear-groups", memctl, "--socket", memd.socketPath, "call"] + args
            )
        }
        let spawn = try nobody(["sim.spawn", "--machine", mine])
        #expect(spawn.status == 1)
        #expect(spawn.err.contains("error -32005 simNotFound"), "\(spawn.err)")
        #expect(try nobody(["meminfo", "--source", "sim", "--machine", mine]).err.contains("-32005"))
        let list = try nobody(["sim.list"])
        #expect(list.status == 0)
        #expect(try JSONParser.parse(list.out)["machines"]?.arrayValue?.isEmpty == true)
        let theirs = try nobody(["sim.create"])
        #expect(theirs.status == 0, "\(theirs.err)")
        let their = try #require(try JSONParser.parse(theirs.out)["machine"])
        expectError(client, "sim.spawn", ["machine": their], code: -32005, kind: "simNotFound")
        expectError(client, "sim.destroy", ["machine": their], code: -32005, kind: "simNotFound")
        #expect(try call(client, "sim.list")["machines"]?.arrayValue?.count == 1)
        memd.stop()
    }

    @Test func base64RoundTrips() {
        for text in ["", "h", "he", "hel", "hell", "hello", "hello!"] {
            let bytes = Array(text.utf8)
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
        #expect(Base64.encode(Array("hello".utf8)) == "aGVsbG8=")
        #expect(Base64.decode("aGVsbG8") == Array("hello".utf8))
        #expect(Base64.decode("a=b") == nil && Base64.decode("*") == nil)
        let all = (0..<256).map { UInt8($0) }
        #expect(Base64.decode(Base64.encode(all)) == all)
    }
}
