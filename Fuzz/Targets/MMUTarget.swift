import MMU

extension FuzzTarget {
    /// The simulator driven by a sequence of operations the input spells out (structure-aware:
    /// every byte is a choice, so libFuzzer's mutations are mutations of a program). Every call
    /// returns a result or throws an `MMUError` of a known kind, and the machine's books stay
    /// balanced after each step: what MMUTests.FuzzTests checks for seeded random programs.
    static let mmu = FuzzTarget("mmu") { bytes in
        var input = FuzzInput(bytes)
        let budget = MemoryBudget(limit: input.pick([700 << 10, 6 << 20, 64 << 20]))
        var config = MachineConfig()
        config.physicalBytes = input.pick([4 << 20, 16 << 20])
        config.addressing = input.chance(25) ? .physical : .virtual
        config.addressBits = input.pick([32, 39, 47])
        config.hugePages = input.chance(30)
        config.swapBytes = input.pick([0, 0, 4 << 20])
        config.panicOnOom = input.chance(10)
        config.pcid = input.chance(50)
        let limits = MachineLimits(maxProcesses: 6, maxMappings: 24, maxAccesses: 20_000, budget: budget)
        guard let m = try? Machine(config: config, limits: limits) else { return }
        var addresses: [UInt64] = [0x40_0000]
        let edges: [UInt64] = [
            0, 1, 4095, 4096, 4097, 1 << 32, 1 << 47, (1 << 47) - 4096, 1 << 48, 1 << 63, UInt64.max - 4095, .max,
        ]

        func value() -> UInt64 {
            switch input.below(4) {
            case 0: return input.pick(edges)
            case 1: return input.pick(addresses) &+ UInt64(input.below(4)) * 4096
            case 2: return input.uint64() % (1 << 24)
            default: return input.uint64()
            }
        }
        func length() -> UInt64 { input.chance(70) ? UInt64(input.below(64) + 1) * 4096 : value() }
        func pid() -> Int {
            input.chance(85) && !m.pids.isEmpty ? input.pick(m.pids) : input.pick([0, -1, 99, Int.max, Int.min])
        }
        func protection() -> Protection { Protection(rawValue: input.byte() % 8) }
        func count() -> Int { input.chance(90) ? input.below(250) * 8 : input.pick([-1, 20_001, Int.max]) }

        var steps = 0
        while !input.isExhausted, steps < 64 {
            steps += 1
            do throws(MMUError) {
                switch input.below(16) {
                case 0:
                    _ = try m.spawn(
                        command: input.pick(["prog", "", "/bin/x"]),
                        textBytes: input.chance(80) ? 64 << 10 : value(),
                        dataBytes: input.chance(80) ? 16 << 10 : value(),
                        stackBytes: input.chance(80) ? 132 << 10 : value()
                    )
                case 1, 2:
                    let file: (name: String, sizeBytes: UInt64)? =
                        input.chance(40) ? (input.pick(["f", "g", ""]), value()) : nil
                    let r = try m.mmap(
                        pid: pid(),
                        length: length(),
                        protection: protection(),
                        shared: input.chance(30),
                        file: file,
                        offset: input.chance(60) ? 0 : value(),
                        address: input.chance(50) ? nil : value()
                    )
                    if let a = r.address { addresses.append(a) }
                case 3: _ = try m.unmap(pid: pid(), address: value(), length: length())
                case 4, 5:
                    _ = try m.touch(
                        pid: pid(),
                        address: value(),
                        length: length(),
                        access: input.pick([.read, .write]),
                        stride: input.chance(70) ? 4096 : value()
                    )
                case 6: _ = try m.read(pid: pid(), address: value(), length: input.below(250) * 20 - 100)
                case 7:
                    // What a request can carry (sim.write's bytes come from a line of bounded length).
                    let bytes = [UInt8](repeating: 0x41, count: input.below(250) * 20)
                    _ = try m.write(pid: pid(), address: value(), bytes: bytes)
                case 8: _ = try m.fork(pid: pid())
                case 9: _ = try m.exit(pid: pid())
                case 10: _ = try m.mprotect(pid: pid(), address: value(), length: length(), protection: protection())
                case 11:
                    _ = try m.translate(
                        pid: pid(),
                        address: value(),
                        access: input.pick([.read, .write, .exec]),
                        mode: input.pick([.user, .kernel]),
                        dryRun: input.chance(30),
                        trace: input.chance(30)
                    )
                case 12:
                    let pattern: AddressPattern =
                        switch input.below(4) {
                        case 0: .sequential(start: value(), length: value(), count: count())
                        case 1: .stride(start: value(), length: value(), stride: value(), count: count())
                        case 2: .random(start: value(), length: value(), seed: input.uint64(), count: count())
                        default: .addresses((0..<input.below(50)).map { _ in value() })
                        }
                    _ = try m.translateBatch(
                        pid: pid(),
                        pattern: pattern,
                        access: input.pick([.read, .write]),
                        dryRun: input.chance(20)
                    )
                case 13:
                    _ = try m.fileContents(
                        name: input.pick(["f", "g", "/usr/bin/prog"]),
                        offset: value(),
                        length: input.below(250) * 40
                    )
                case 14: try m.writeFile(name: input.pick(["f", "g"]), offset: value(), bytes: [1, 2, 3])
                default:
                    if input.chance(50) { _ = try m.sync() } else { _ = try m.dropCaches() }
                }
            } catch {
                let known: [MMUError.Code] = [.invalidArgument, .unknownPID, .resourceLimit, .machinePanicked]
                precondition(known.contains(error.code), "an MMUError of no known kind: \(error)")
                precondition(error.code != .invalidArgument || error.parameter != nil, "\(error) names no parameter")
            }
            m.settleBudget()
            precondition(budget.used <= budget.limit, "the machine went over its memory budget")
            guard !m.isPanicked else { continue }
            let summary = m.summary()
            precondition(summary.usedBytes + summary.freeBytes == config.physicalBytes, "frames lost: \(summary)")
            precondition(summary.processes <= limits.maxProcesses, "more processes than the limit")
            for p in m.pids {
                guard let stats = try? m.processStats(pid: p), let mappings = try? m.mappings(pid: p) else {
                    preconditionFailure("a listed pid \(p) has no stats")
                }
                precondition(stats.rss <= config.physicalBytes, "pid \(p): rss above physical memory")
                precondition(mappings.count <= limits.maxMappings, "pid \(p): more mappings than the limit")
            }
        }
    }
}
