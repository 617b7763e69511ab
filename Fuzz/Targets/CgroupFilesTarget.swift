import ProcFS

extension FuzzTarget {
    /// A memory cgroup's control files (mm/memcontrol.c) as `cgroups` and `meminfo` read them:
    /// the first byte picks v1 or v2, the rest is the files' text in ``cgroupFileNames`` order,
    /// separated by NUL bytes (which no control file holds).
    static let cgroupFiles = FuzzTarget("cgroup_files") { bytes in
        guard let first = bytes.first else { return }
        let version: CgroupHierarchy.Version = first & 1 == 0 ? .v1 : .v2
        let texts = bytes.dropFirst().split(separator: 0, omittingEmptySubsequences: false)
        let names = cgroupFileNames[version] ?? []
        var files: [String: String] = [:]
        for (name, text) in zip(names, texts) { files[name] = String(decoding: text, as: UTF8.self) }
        _ = CgroupMemory(path: CgroupPath(components: []), version: version, stat: true) { files[$0] }
    }

    /// The files each version's figures are read from, in the order a fuzz input holds them.
    static let cgroupFileNames: [CgroupHierarchy.Version: [String]] = [
        .v2: [
            "memory.current", "memory.stat", "memory.max", "memory.high", "memory.peak", "memory.swap.current",
            "memory.events", "memory.pressure", "cgroup.procs",
        ],
        .v1: [
            "memory.usage_in_bytes", "memory.stat", "memory.limit_in_bytes", "memory.max_usage_in_bytes",
            "memory.memsw.usage_in_bytes", "memory.oom_control", "cgroup.procs",
        ],
    ]
}
