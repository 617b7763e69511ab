/// glibc's heap, as memd sets it up and gives memory back (<malloc.h>, which the Glibc module does
/// not import: mallopt(3), malloc_trim(3)).
public enum Heap {
    @_silgen_name("mallopt") private static func mallopt(_ parameter: Int32, _ value: Int32) -> Int32
    @_silgen_name("malloc_trim") private static func malloc_trim(_ pad: Int) -> Int32
    private static let mmapThreshold: Int32 = -3  // M_MMAP_THRESHOLD
    private static let arenaMax: Int32 = -8  // M_ARENA_MAX

    /// Big replies (maps of 60,000 mappings: ~9 MB, several copies) must not stay with memd once
    /// sent. glibc raises its mmap threshold after each big free, so later big buffers come from
    /// the heaps of the threads that made them and stay there (98 MiB after a few maps, rising).
    /// A fixed threshold keeps every buffer over 256 KiB mmapped: freed means given back; and
    /// two arenas instead of one per thread keep the small-allocation heaps from multiplying.
    public static func configure() {
        _ = mallopt(mmapThreshold, 256 << 10)
        _ = mallopt(arenaMax, 2)
    }

    /// Returns the free pages inside the heaps to the system (what many small buffers left behind
    /// when a client that did not read has gone).
    public static func giveBack() {
        _ = malloc_trim(0)
    }
}
