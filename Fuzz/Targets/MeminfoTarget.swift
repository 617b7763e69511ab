import ProcFS

extension FuzzTarget {
    /// /proc/meminfo (fs/proc/meminfo.c), and free's figures made from it.
    static let meminfo = FuzzTarget("meminfo") { bytes in
        guard let info = try? Meminfo.parse(bytes.uint8) else { return }
        _ = FreeFigures(info)
        _ = SarMemory(info)
    }
}
