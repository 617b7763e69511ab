import ProcFS

extension FuzzTarget {
    /// /proc/PID/smaps (fs/proc/task_mmu.c, show_smap): headers, `Key: N kB` lines, VmFlags;
    /// the totals of all mappings summed as memctl and pmap -X do.
    static let smaps = FuzzTarget("smaps") { bytes in
        guard let mappings = try? MapsParser.parseSmaps(bytes.uint8) else { return }
        _ = mappings.reduce(SmapsDetail()) { $0 + ($1.detail ?? SmapsDetail()) }
        // Every line kept as named (maps' `smaps: true`, memctl maps -X).
        _ = try? MapsParser.parseSmaps(bytes.uint8, fields: true)
    }
}
