import Testing

@testable import MMU

#if canImport(Glibc)
import Glibc
#endif

/// SplitMix64: a tiny seeded generator, so a run can be replayed from its seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

/// The seeds a run uses: `MEMD_FUZZ_SEED=N` replays one; by default seeds 1…40 (reproducible in CI),
/// `MEMD_FUZZ_COUNT=N` for 1…N (a longer hunt).
func fuzzSeeds(default count: Int) -> [UInt64] {
    if let text = getenvString("MEMD_FUZZ_SEED"), let seed = UInt64(text) { return [seed] }
    let n = getenvString("MEMD_FUZZ_COUNT").flatMap { UInt64($0) } ?? UInt64(count)
    return (1...max(1, n)).map { $0 }
}

func getenvString(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    return String(cString: value)
}

/// The numbers hostile clients send (limits.md §1): zero, one, page edges, 2^32, the 47/48-bit address
/// space edges, 2^63, the top of 2^64.
let boundaryValues: [UInt64] = [
    0, 1, 4095, 4096, 4097, 1 << 32, 1 << 47, (1 << 47) - 4096, 1 << 48, 1 << 63, (1 << 63) - 4096,
    UInt64.max - 4095, UInt64.max,
]

/// Random sequences of simulator calls with boundary values, straight through the MMU API: every call
/// returns a result or throws an `MMUError` (never traps), and the machine's books stay balanced.
/// A trap ends the test process: the seed printed last is the one to replay (`MEMD_FUZZ_SEED`).
struct FuzzTests {
    @Test func randomCallsWithBoundaryValues() throws {
        for seed in fuzzSeeds(default: 40) {
            print("MMU fuzz seed \(seed) (replay: MEMD_FUZZ_SEED=\(seed) swift test --filter FuzzTests)")
            try run(seed: seed, steps: 150)
        }
    }

    func run(seed: UInt64, steps: Int) throws {
        var g = SeededGenerator(seed: seed)
        func pick<T>(_ values: [T]) -> T { values[Int(g.next() % UInt64(values.count))] }
        func chance(_ percent: UInt64) -> Bool { g.next() % 100 < percent }
        let budget = MemoryBudget(limit: pick([700 << 10, 6 << 20, 64 << 20]))
        var config = MachineConfig()
        config.physicalBytes = pick([4 << 20, 16 << 20, 64 << 20])
        config.addressing = chance(25) ? .physical : .virtual
        config.addressBits = pick([32, 39, 47])
        config.hugePages = chance(30)
        config.swapBytes = pick([0, 0, 4 << 20])
        config.panicOnOom = chance(10)
        config.pcid = chance(50)
        let limits = MachineLimits(maxProcesses: 6, maxMappings: 24, maxAccesses: 20_000, budget: budget)
        let m: Machine
        do {
            m = try Machine(config: config, limits: limits)
        } catch {
            #expect(error.resource == "simMemory", "seed \(seed): \(error)")
            return
        }
        var addresses: [UInt64] = [0x40_0000]

        func value() -> UInt64 {
            switch g.next() % 4 {
            case 0: return pick(boundaryValues)
            case 1: return pick(addresses) &+ (g.next() % 4) * 4096
            case 2: return g.next() % (1 << 24)
            default: return pick(boundaryValues) &+ g.next() % 8192 &- 4096
            }
        }
        func length() -> UInt64 { chance(70) ? (g.next() % 64 + 1) * 4096 - (chance(20) ? 1 : 0) : value() }
        func pid() -> Int { chance(85) && !m.pids.isEmpty ? pick(m.pids) : pick([0, -1, 99, Int.max, Int.min]) }
        func protection() -> Protection { Protection(rawValue: UInt8(g.next() % 8)) }

        for step in 0..<steps {
            let op = m.pids.isEmpty && chance(80) ? 0 : g.next() % 16
            do throws(MMUError) {
                switch op {
                case 0:
                    _ = try m.spawn(
                        command: chance(90) ? "prog" : pick(["", "/bin/x"]),
                        textBytes: chance(80) ? 64 << 10 : value(),
                        dataBytes: chance(80) ? 16 << 10 : value(),
                        stackBytes: chance(80) ? 132 << 10 : value()
                    )
                case 1, 2:
                    let file: (name: String, sizeBytes: UInt64)? = chance(40) ? (pick(["f", "g", ""]), value()) : nil
                    let r = try m.mmap(
                        pid: pid(),
                        length: length(),
                        protection: protection(),
                        shared: chance(30),
                        file: file,
                        offset: chance(60) ? 0 : value(),
                        address: chance(50) ? nil : value()
                    )
                    if let a = r.address { addresses.append(a) }
                case 3: _ = try m.unmap(pid: pid(), address: value(), length: length())
                case 4, 5:
                    _ = try m.touch(
                        pid: pid(),
                        address: value(),
                        length: length(),
                        access: pick([.read, .write]),
                        stride: chance(70) ? 4096 : value()
                    )
                case 6: _ = try m.read(pid: pid(), address: value(), length: Int(g.next() % 5000) - 100)
                case 7:
                    _ = try m.write(
                        pid: pid(),
                        address: value(),
                        bytes: [UInt8](repeating: 0x41, count: Int(g.next() % 5000))
                    )
                case 8: _ = try m.fork(pid: pid())
                case 9: _ = try m.exit(pid: pid())
                case 10: _ = try m.mprotect(pid: pid(), address: value(), length: length(), protection: protection())
                case 11:
                    _ = try m.translate(
                        pid: pid(),
                        address: value(),
                        access: pick([.read, .write, .exec]),
                        mode: pick([.user, .kernel]),
                        dryRun: chance(30),
                        trace: chance(30)
                    )
                case 12:
                    let count = chance(80) ? Int(g.next() % 3000) : pick([-1, 20_001, Int.max])
                    let pattern: AddressPattern =
                        switch g.next() % 4 {
                        case 0: .sequential(start: value(), length: value(), count: count)
                        case 1: .stride(start: value(), length: value(), stride: value(), count: count)
                        case 2: .random(start: value(), length: value(), seed: g.next(), count: count)
                        default: .addresses((0..<Int(g.next() % 50)).map { _ in value() })
                        }
                    _ = try m.translateBatch(
                        pid: pid(),
                        pattern: pattern,
                        access: pick([.read, .write]),
                        dryRun: chance(20)
                    )
                case 13:
                    _ = try m.fileContents(
                        name: pick(["f", "g", "/usr/bin/prog"]),
                        offset: value(),
                        length: Int(g.next() % 9000)
                    )
                case 14: try m.writeFile(name: pick(["f", "g"]), offset: value(), bytes: [1, 2, 3])
                default:
                    if chance(50) { _ = try m.sync() } else { _ = try m.dropCaches() }
                }
                if ProcessInfoShim.verbose { print("step \(step) op \(op) ok") }
            } catch {
                if ProcessInfoShim.verbose { print("step \(step) op \(op) \(error)") }
                let known: [MMUError.Code] = [.invalidArgument, .unknownPID, .resourceLimit, .machinePanicked]
                #expect(known.contains(error.code), "seed \(seed) step \(step) op \(op): \(error)")
                if error.code == .invalidArgument {
                    #expect(error.parameter != nil, "seed \(seed) step \(step): \(error)")
                }
            }
            m.settleBudget()
            #expect(budget.used <= budget.limit, "seed \(seed) step \(step): budget passed")
            #expect(m.hostBytes <= m.charged, "seed \(seed) step \(step) op \(op): holds more than it was given")
            if !m.isPanicked {
                let s = m.summary()
                #expect(s.usedBytes + s.freeBytes == config.physicalBytes, "seed \(seed) step \(step)")
                #expect(s.processes <= limits.maxProcesses, "seed \(seed) step \(step)")
                for p in m.pids {
                    let stats = try m.processStats(pid: p)
                    #expect(stats.rss <= config.physicalBytes, "seed \(seed) step \(step) pid \(p)")
                    #expect(
                        try m.mappings(pid: p, detail: false).count <= limits.maxMappings,
                        "seed \(seed) step \(step)"
                    )
                }
            }
        }
    }
}

enum ProcessInfoShim { static let verbose = getenvString("MEMD_FUZZ_VERBOSE") != nil }
