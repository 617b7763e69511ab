import Foundation
import JSONRPC
import MemdProtocol
import Testing

/// SplitMix64, seeded, so a run can be replayed.
struct FuzzGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
    mutating func pick<T>(_ values: [T]) -> T { values[Int(next() % UInt64(values.count))] }
    mutating func chance(_ percent: UInt64) -> Bool { next() % 100 < percent }
}

/// Random sequences of sim.* calls over a live memd's socket, with boundary values written as JSON
/// numbers, hex strings, negatives and wrong types: every line gets its answer (a result, or an error
/// that is not -32603), and memd serves on. `MEMD_FUZZ_SEED=N` replays one seed; a failure names it.
@Suite(.serialized) struct SimFuzzTests {
    static let boundaries: [UInt64] = [
        0, 1, 4095, 4096, 1 << 32, 1 << 47, 1 << 48, 1 << 63, UInt64.max - 4095, UInt64.max,
    ]

    /// A value as raw JSON text: a number, a hex string (for addresses: lengths and counts are
    /// integers on the wire), a negative, or the wrong type.
    static func number(_ g: inout FuzzGenerator, near: [UInt64], hex: Bool = true) -> String {
        let v: UInt64 = g.chance(40) ? g.pick(boundaries) : g.pick(near) &+ (g.next() % 4) * 4096
        switch g.next() % 10 {
        case 0, 1, 2: return hex || v > UInt64(Int64.max) ? "\"0x\(String(v, radix: 16))\"" : "\(v)"
        case 3, 4: return v <= UInt64(Int64.max) ? "\(v)" : "\"0x\(String(v, radix: 16))\""
        case 5: return g.pick(["18446744073709551616", "-1", "-4096", "1e300", "4095.5", "-0", "9223372036854775808"])
        case 6:
            return g.pick(["\"abc\"", "true", "null", "[]", "{}", "\"0x\"", "\"-0x1000\"", "\"0x10000000000000000\""])
        default: return "\((g.next() % 64 + 1) * 4096 - (g.chance(20) ? 1 : 0))"
        }
    }

    @Test func randomCallsWithBoundaryValues() throws {
        let memd = try MemdHarness(["--max-sim-memory", "\(48 << 20)", "--max-sim-processes", "8"])
        let client = try memd.client()
        let seeds: [UInt64]
        if let text = ProcessInfo.processInfo.environment["MEMD_FUZZ_SEED"], let seed = UInt64(text) {
            seeds = [seed]
        } else {
            let count = ProcessInfo.processInfo.environment["MEMD_FUZZ_COUNT"].flatMap { UInt64($0) } ?? 4
            seeds = Array(1...max(1, count))
        }
        var id = 0
        for seed in seeds {
            print("memd fuzz seed \(seed) (replay: MEMD_FUZZ_SEED=\(seed) swift test --filter SimFuzzTests)")
            var g = FuzzGenerator(state: seed)
            var machines: [String] = []
            for addressing in ["virtual", "physical"] {
                let m = try #require(
                    try call(client, "sim.create", ["addressing": .string(addressing)])["machine"]?.stringValue
                )
                machines.append(m)
                _ = try call(client, "sim.spawn", ["machine": .string(m)])
            }
            var near: [UInt64] = [0x40_0000, 0x7fff_f000_0000]
            var pids = [1]
            for step in 0..<120 {
                let machine = g.chance(90) ? "\"\(g.pick(machines))\"" : g.pick(["\"m999\"", "\"\"", "5", "null"])
                let pid = g.chance(85) ? "\(g.pick(pids))" : Self.number(&g, near: near)
                var params: [(String, String)] = [("machine", machine)]
                var method: String
                switch step % 8 == 0 ? 0 : g.next() % 12 {
                case 0:
                    method = "sim.spawn"
                    if g.chance(30) {
                        params.append((g.pick(["textBytes", "dataBytes", "stackBytes"]), Self.number(&g, near: near)))
                    }
                case 1, 2:
                    method = "sim.mmap"
                    params += [
                        ("pid", pid), ("length", Self.number(&g, near: near, hex: false)),
                        ("prot", g.pick(["\"rw-\"", "\"r--\"", "\"rwx\"", "\"xyz\"", "7"])),
                    ]
                    if g.chance(40) {
                        params.append(
                            ("file", "{\"name\":\"f\",\"sizeBytes\":\(Self.number(&g, near: near, hex: false))}")
                        )
                        if g.chance(60) { params.append(("offset", Self.number(&g, near: near))) }
                    }
                    if g.chance(30) { params.append(("address", Self.number(&g, near: near))) }
                case 3:
                    method = "sim.munmap"
                    params += [
                        ("pid", pid), ("address", Self.number(&g, near: near)),
                        ("length", Self.number(&g, near: near, hex: false)),
                    ]
                case 4, 5:
                    method = "sim.touch"
                    params += [
                        ("pid", pid), ("address", Self.number(&g, near: near)),
                        ("length", Self.number(&g, near: near, hex: false)),
                        ("access", g.pick(["\"read\"", "\"write\"", "\"exec\""])),
                    ]
                    if g.chance(40) { params.append(("stride", Self.number(&g, near: near, hex: false))) }
                case 6:
                    method = "sim.read"
                    params += [
                        ("pid", pid), ("address", Self.number(&g, near: near)),
                        ("length", g.pick(["0", "1", "4096", "4097", "-1"])),
                    ]
                case 7:
                    method = "sim.write"
                    params += [
                        ("pid", pid), ("address", Self.number(&g, near: near)),
                        ("data", g.pick(["\"hi\"", "\"/w==\"", "5"])),
                    ]
                    if g.chance(50) { params.append(("encoding", "\"base64\"")) }
                case 8:
                    method = g.pick(["sim.fork", "sim.exit"])
                    params.append(("pid", pid))
                case 9:
                    method = "simulateTranslation"
                    params += [("source", "\"sim\""), ("pid", pid)]
                    if g.chance(50) {
                        params.append(("addresses", "[\(Self.number(&g, near: near)),\(Self.number(&g, near: near))]"))
                        if g.chance(50) { params.append(("trace", "true")) }
                    } else {
                        let count = g.pick(["0", "1", "1000", "10000001", "-1", "\"many\""])
                        params.append(
                            (
                                "pattern",
                                "{\"start\":\(Self.number(&g, near: near)),\"length\":\(Self.number(&g, near: near)),\"count\":\(count),\"order\":\"stride\",\"stride\":\(Self.number(&g, near: near))}"
                            )
                        )
                    }
                case 10:
                    method = g.pick(["meminfo", "maps", "pageStats"])
                    params.append(("source", "\"sim\""))
                    if method == "maps" { params.append(("pid", pid)) }
                default:
                    method = g.pick(["sim.create", "sim.create", "sim.list", "sim.destroy"])
                    // (sim.destroy takes the newest machine; the first two stay for the whole run)
                    if method == "sim.create" {
                        params = [
                            ("physicalBytes", Self.number(&g, near: [64 << 20, 1 << 30], hex: false)),
                            ("addressBits", g.pick(["32", "47", "48", "-1"])),
                        ]
                        if g.chance(50) { params.append(("addressing", "\"physical\"")) }
                    } else if method == "sim.destroy", machines.count > 2, let m = machines.popLast() {
                        params = [("machine", "\"\(m)\"")]
                    } else {
                        method = "sim.list"
                        params = []
                    }
                }
                id += 1
                let body = params.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",")
                let text = #"{"jsonrpc":"2.0","id":\#(id),"method":"\#(method)","params":{\#(body)}}"#
                let reply = try rawCall(client, text)
                let context = "seed \(seed) step \(step): \(text) → \(line(reply).prefix(300))"
                #expect(reply["id"] == .int(id), "\(context)")
                if ProcessInfo.processInfo.environment["MEMD_FUZZ_VERBOSE"] != nil { print(context) }
                if let error = reply["error"] {
                    let code = error["code"]?.intValue ?? 0
                    #expect([-32602, -32003, -32004, -32005].contains(code), "\(context)")
                    if code == -32602 { #expect(error["data"]?["param"] != nil, "\(context)") }
                } else {
                    #expect(reply["result"] != nil, "\(context)")
                    if let a = reply["result"]?["address"]?.stringValue, let v = UInt64(a.dropFirst(2), radix: 16) {
                        near.append(v)
                    }
                    if method == "sim.spawn" || method == "sim.fork", let p = reply["result"]?["pid"]?.intValue {
                        pids.append(p)
                    }
                    if method == "sim.create", let m = reply["result"]?["machine"]?.stringValue { machines.append(m) }
                }
                guard memd.process.isRunning else {
                    Issue.record("memd died: \(context)")
                    return
                }
            }
            for m in machines { _ = try call(client, "sim.destroy", ["machine": .string(m)]) }
        }
        let left = try call(client, "sim.list")["machines"]?.arrayValue ?? []
        #expect(left.isEmpty, "machines left: \(left.map { line($0) })")
    }
}
