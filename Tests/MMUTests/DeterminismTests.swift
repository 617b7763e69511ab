import Testing

@testable import MMU

struct DeterminismTests {
    struct Snapshot: Equatable {
        var meminfo: [String]
        var vmstat: [String]
        var maps: [MappingInfo]
        var translations: [Translation]
        var summary: TranslationSummary
    }

    /// A mixed workload: spawn, file and anon maps, touches, fork, CoW, munmap, memory pressure.
    func workload() throws -> Snapshot {
        let m = try makeMachine(MachineConfig(physicalBytes: 16 * MiB, tlbEntries: 16, tlbWays: 2))
        let p = try spawn(m, "det")
        let a = try mmapAnon(m, p, 8 * MiB)
        let f = try #require(try m.mmap(pid: p, length: 2 * MiB, protection: .read, file: ("/f", 2 * MiB)).address)
        _ = try m.touch(pid: p, address: f, length: 2 * MiB, access: .read)
        _ = try m.touch(pid: p, address: a, length: 4 * MiB, access: .write, stride: 8192)
        let c = try m.fork(pid: p)
        _ = try m.touch(pid: c, address: a, length: 8 * MiB, access: .write)
        _ = try m.munmap(pid: p, address: a + MiB, length: MiB)
        let summary = try m.translateBatch(
            pid: c,
            pattern: .random(start: a, length: 8 * MiB, seed: 7, count: 50_000),
            access: .write
        )
        let translations = try (0..<8).map { i in
            try m.translate(pid: c, address: a + UInt64(i) * 3 * page + 5, trace: true)
        }
        return Snapshot(
            meminfo: try m.meminfo().map { "\($0.key)=\($0.bytes)" },
            vmstat: try m.vmstat().map { "\($0.key)=\($0.value)" },
            maps: try m.mappings(pid: c, detail: true),
            translations: translations,
            summary: summary
        )
    }

    @Test func sameOperationsGiveIdenticalResults() throws {
        let one = try workload()
        let two = try workload()
        #expect(one == two)
        #expect(one.summary.count == 50_000)
    }

    @Test func batchAndSingleTranslationsAgree() throws {
        let batch = try makeMachine()
        let single = try makeMachine()
        var sums: [TranslationSummary] = []
        for m in [batch, single] {
            let p = try spawn(m)
            let a = try mmapAnon(m, p, 64 * page)
            _ = try m.touch(pid: p, address: a, length: 32 * page, access: .read)
            if m === batch {
                sums.append(
                    try m.translateBatch(
                        pid: p,
                        pattern: .stride(start: a, length: 64 * page, stride: 1024, count: 600),
                        access: .write
                    )
                )
            } else {
                var s = TranslationSummary()
                var off: UInt64 = 0
                for _ in 0..<600 {
                    let t = try m.translate(pid: p, address: a + off, access: .write)
                    s.outcomes[t.outcome, default: 0] += 1
                    s.physicalAddressSum &+= t.physicalAddress ?? 0
                    off = (off + 1024) % (64 * page)
                }
                sums.append(s)
            }
        }
        // 64 pages: 32 read earlier (zero page) → CoW, 32 new → minor; the rest hit or walk.
        #expect(sums[0].outcomes[.cowFault] == 32 && sums[0].outcomes[.minorFault] == 32)
        for o in Outcome.allCases { #expect((sums[0].outcomes[o] ?? 0) == (sums[1].outcomes[o] ?? 0), "\(o)") }
        #expect(sums[0].physicalAddressSum == sums[1].physicalAddressSum)
    }

    @Test(arguments: [
        (
            AddressPattern.sequential(start: 0x7f00_0000_0000, length: 3 * 4096, count: 5),
            [0x7f00_0000_0000, 0x7f00_0000_1000, 0x7f00_0000_2000, 0x7f00_0000_0000, 0x7f00_0000_1000] as [UInt64]
        ),
        (.stride(start: 0x1000, length: 100, stride: 64, count: 4), [0x1000, 0x1040, 0x1024, 0x1064]),
    ])
    func patternsWrapWithinLength(pattern: AddressPattern, expected: [UInt64]) throws {
        // Compare a pattern with the same addresses given explicitly.
        let sums = try [pattern, .addresses(expected)].map { p in
            let m = try makeMachine()
            let pid = try spawn(m)
            return try m.translateBatch(pid: pid, pattern: p, dryRun: true)
        }
        #expect(sums[0] == sums[1])
    }

    @Test func randomPatternIsTheAnchorsXorshift() {
        var s = XorshiftStream(start: 0x7f00_0000_0000, length: 1 << 30, seed: 88_172_645_463_325_252)
        var x: UInt64 = 88_172_645_463_325_252
        for _ in 0..<1000 {
            x ^= x << 13
            x ^= x >> 7
            x ^= x << 17
            #expect(s.next() == 0x7f00_0000_0000 + (x & ((1 << 30) - 1)))
        }
    }
}
