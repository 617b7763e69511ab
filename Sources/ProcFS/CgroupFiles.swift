extension CgroupMemory {
    /// The figures of one cgroup from the text of its control files: `file(name)` is the text of
    /// `memory.current`, `memory.stat`, … (nil when the file is missing or unreadable). Pure, so
    /// what the kernel writes there is tested (and fuzzed) without a cgroup.
    ///
    /// A figure that is not a decimal count of at least 0 counts as missing: the kernel prints
    /// these as unsigned (mm/memcontrol.c), so the subtractions below cannot overflow.
    public init(path: CgroupPath, version: CgroupHierarchy.Version, stat withStat: Bool, file: (String) -> String?) {
        self.init(path: path)
        func number(_ name: String) -> Int? { file(name).flatMap { CgroupMemory.count($0.trimmingSpaces) } }
        func keyed(_ name: String) -> [(key: String, value: Int)]? { file(name).map(CgroupMemory.keyed) }
        func value(_ pairs: [(key: String, value: Int)]?, _ key: String) -> Int? {
            pairs?.first { $0.key == key }?.value
        }
        let stat = keyed("memory.stat")
        processes = file("cgroup.procs").map { $0.split(separator: "\n").count }
        switch version {
        case .v2:
            current = number("memory.current")
            max = number("memory.max")  // `max` (no limit) is no number: nil
            high = number("memory.high")
            peak = number("memory.peak")
            swapCurrent = number("memory.swap.current")
            if let current { workingSet = Swift.max(0, current - (value(stat, "inactive_file") ?? 0)) }
            if let events = keyed("memory.events") {
                self.events = Events(
                    low: value(events, "low"),
                    high: value(events, "high"),
                    max: value(events, "max"),
                    oom: value(events, "oom"),
                    oomKill: value(events, "oom_kill"),
                    underOom: nil
                )
            }
            pressure = file("memory.pressure").flatMap { text in
                try? Pressure.parse(Array(text.utf8), path: "memory.pressure")
            }
        case .v1:
            current = number("memory.usage_in_bytes")
            max = number("memory.limit_in_bytes").flatMap { $0 >= CgroupMemory.v1Unlimited ? nil : $0 }
            peak = number("memory.max_usage_in_bytes")
            if let current, let memsw = number("memory.memsw.usage_in_bytes") {
                swapCurrent = Swift.max(0, memsw - current)
            }
            if let current { workingSet = Swift.max(0, current - (value(stat, "total_inactive_file") ?? 0)) }
            if let control = keyed("memory.oom_control") {
                events = Events(
                    low: nil,
                    high: nil,
                    max: nil,
                    oom: nil,
                    oomKill: value(control, "oom_kill"),
                    underOom: value(control, "under_oom").map { $0 != 0 }
                )
            }
        }
        if withStat { self.stat = stat ?? [] }
    }

    /// A flat keyed file (`key value` lines): memory.stat, memory.events, memory.oom_control.
    static func keyed(_ text: String) -> [(key: String, value: Int)] {
        var pairs: [(key: String, value: Int)] = []
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ")
            guard words.count == 2, let value = count(words[1]) else { continue }
            pairs.append((String(words[0]), value))
        }
        return pairs
    }

    /// A count the kernel prints unsigned; a negative one is not what the kernel wrote.
    static func count(_ text: some StringProtocol) -> Int? { Int(text).flatMap { $0 >= 0 ? $0 : nil } }
}
