import Foundation
import JSONRPC
import MemdProtocol
import Testing

/// Sends one raw line and returns the parsed response (the line as a client typed it).
func rawCall(_ client: MemdClient, _ line: String) throws -> JSON {
    try client.send(Array((line + "\n").utf8))
    return try JSONParser.parse(try client.readLine())
}

/// One JSON value as a request line.
func line(_ value: JSON) -> String {
    var writer = JSONWriter(capacity: 256)
    writer.write(value)
    return String(decoding: writer.bytes, as: UTF8.self)
}

/// limits.md §1–3 for the simulator, end to end over a live memd: each limit as the contract words it.
@Suite(.serialized) struct SimLimitsTests {
    /// Issue 8's crash lines: each answered (an error or a result) and memd still serves.
    @Test func theCrashLinesAreAnswered() throws {
        let memd = try MemdHarness()
        let client = try memd.client()
        let created = try rawCall(client, #"{"jsonrpc":"2.0","id":1,"method":"sim.create","params":{"addressing":"physical"}}"#)
        let m = try #require(created["result"]?["machine"]?.stringValue)
        let spawned = try rawCall(client, #"{"jsonrpc":"2.0","id":2,"method":"sim.spawn","params":{"machine":"\#(m)"}}"#)
        #expect(spawned["result"]?["pid"] == 1)
        let unmapped = try rawCall(
            client,
            #"{"jsonrpc":"2.0","id":3,"method":"sim.munmap","params":{"machine":"\#(m)","pid":1,"address":"0x8000000","length":4096}}"#)
        #expect(unmapped["error"]?["code"] == -32602)
        #expect(unmapped["error"]?["data"]?["param"] == "address")

        let v = try #require(try call(client, "sim.create")["machine"])
        _ = try call(client, "sim.spawn", ["machine": v])
        let file: JSON = ["name": "f", "sizeBytes": 4096]
        let refused = try rawCall(client, line([
            "jsonrpc": "2.0", "id": 4, "method": "sim.mmap",
            "params": ["machine": v, "pid": 1, "length": 8192, "prot": "r--", "file": file, "offset": "0xfffffffffffff000"],
        ]))
        #expect(refused["error"]?["code"] == -32602 && refused["error"]?["data"]?["param"] == "offset")
        // The largest offset allowed (offset + length = 2^63): the second page is beyond the file (SIGBUS).
        let mapped = try call(client, "sim.mmap", [
            "machine": v, "pid": 1, "length": 8192, "prot": "r--", "file": file, "offset": "0x7fffffffffffe000",
        ])
        let a = hexValue(mapped["address"])
        let touched = try call(client, "sim.touch", [
            "machine": v, "pid": 1, "address": .hex(a + 4096), "length": 4096, "access": "read",
        ])
        #expect(touched["segv"] != nil)
        _ = try call(client, "sim.spawn", ["machine": v])
        let b = hexValue(try call(client, "sim.mmap", [
            "machine": v, "pid": 2, "length": 8192, "prot": "r--", "file": file, "offset": "0x7fffffffffffe000",
        ])["address"])
        #expect(try call(client, "sim.munmap", ["machine": v, "pid": 2, "address": .hex(b), "length": 4096])["freedPages"] == 0)
        #expect(try call(client, "sim.list")["machines"]?.arrayValue?.count == 2)
        #expect(memd.process.isRunning)
    }
}
