// mmubench: translations per second of the MMU library's batch path on the reference walkers'
// streams (shared/anchors/mmu/mmu_ref.c): 1 GiB at 0x7f0000000000 mapped to frames
// 0x100000 + (i * 0x9E3779B1 mod 2^18), a 16-set 4-way LRU TLB, "seq" = 64-byte stride,
// "rand" = xorshift64 (13, 7, 17) from seed 88172645463325252; checksum = sum of physical addresses.
//
// usage: mmubench seq|rand|both [N] [seed]
// Prints one line per stream and form, in the C walker's key=value format. Two forms:
//   form=addresses  the stream pre-generated into an array, only translation timed (as the C walker does)
//   form=pattern    the stream generated inside the batch call (what simulateTranslation's pattern does)
import MMU

#if canImport(Glibc)
import Glibc
#endif

let vaBase: UInt64 = 0x7f00_0000_0000
let space: UInt64 = 1 << 30
let pages = Int(space >> 12)

func makeMachine() throws(MMUError) -> (Machine, Int) {
    let m = try Machine(config: MachineConfig(physicalBytes: 64 << 20, tlbEntries: 64, tlbWays: 4))
    let pid = try m.spawn(command: "mmubench").pid!
    let r = try m.mapPFNs(pid: pid, address: vaBase, pageCount: pages) { i in
        0x10_0000 + ((UInt64(i) &* 0x9E37_79B1) & UInt64(pages - 1))
    }
    precondition(r.address == vaBase, "mapping not at 0x7f0000000000")
    return (m, pid)
}

func generate(_ rand: Bool, _ n: Int, _ seed: UInt64) -> [UInt64] {
    var out = [UInt64](repeating: 0, count: n)
    var x = seed
    for i in 0..<n {
        if rand {
            x ^= x << 13
            x ^= x >> 7
            x ^= x << 17
            out[i] = vaBase + (x & (space - 1))
        } else {
            out[i] = vaBase + ((UInt64(i) &* 64) & (space - 1))
        }
    }
    return out
}

func run(_ name: String, rand: Bool, n: Int, seed: UInt64) throws(MMUError) {
    for form in ["addresses", "pattern"] {
        let (m, pid) = try makeMachine()
        let pattern: AddressPattern
        if form == "addresses" {
            pattern = .addresses(generate(rand, n, seed))
        } else if rand {
            pattern = .random(start: vaBase, length: space, seed: seed, count: n)
        } else {
            pattern = .stride(start: vaBase, length: space, stride: 64, count: n)
        }
        let clock = ContinuousClock()
        let t0 = clock.now
        let summary = try m.translateBatch(pid: pid, pattern: pattern)
        let elapsed = clock.now - t0
        let secs = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        let faults =
            summary.count - (summary.outcomes[Outcome.translated] ?? 0) - (summary.outcomes[Outcome.tlbHit] ?? 0)
        let hex = String(summary.physicalAddressSum, radix: 16)
        let checksum = String(repeating: "0", count: max(0, 16 - hex.count)) + hex
        print(
            "impl=Swift form=\(form) tlb=sa16x4 pattern=\(name) translations=\(n) secs=\(String(format4(secs))) "
                + "tps=\(Int((Double(n) / secs).rounded())) ns_per=\(format2(secs * 1e9 / Double(n))) "
                + "hits=\(summary.tlbHits) misses=\(summary.tlbMisses) faults=\(faults) checksum=\(checksum)"
        )
    }
}

func format4(_ x: Double) -> String { fixed(x, 4) }
func format2(_ x: Double) -> String { fixed(x, 2) }
func fixed(_ x: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let v = Int((x * scale).rounded())
    let whole = v / Int(scale)
    let frac = String(v % Int(scale))
    return "\(whole)." + String(repeating: "0", count: digits - frac.count) + frac
}

let args = CommandLine.arguments
let which = args.count > 1 ? args[1] : "both"
let n = args.count > 2 ? Int(args[2]) ?? (1 << 24) : 1 << 24
let seed = args.count > 3 ? UInt64(args[3]) ?? 88_172_645_463_325_252 : 88_172_645_463_325_252
guard ["seq", "rand", "both"].contains(which), n > 0 else {
    print("usage: mmubench seq|rand|both [N] [seed]")
    exit(2)
}
do {
    if which != "rand" { try run("seq", rand: false, n: n, seed: seed) }
    if which != "seq" { try run("rand", rand: true, n: n, seed: seed) }
} catch {
    print("mmubench: \(error)")
    exit(1)
}
