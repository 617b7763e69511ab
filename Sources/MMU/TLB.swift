/// A set-associative translation lookaside buffer with LRU replacement within each set.
///
/// One per simulated CPU, persisting across calls. Set index = VPN mod number of sets. Each way
/// holds a tag (VPN and, with PCID, the address-space id), the cached entry (frame number and the
/// effective permission bits) and an LRU stamp. Flushed on an address-space switch unless PCID is on
/// (`switch_mm_irqs_off`); single entries are invalidated (`invlpg`) on munmap, CoW break and
/// permission change.
final class TLB {
    let sets: Int
    let ways: Int
    /// `sets - 1` when sets is a power of two, else -1 (then `%` is used).
    let setMask: Int
    /// Tag per way; `invalidTag` when empty.
    let tags: UnsafeMutablePointer<UInt64>
    /// Cached entry per way: pfn << 12 | effective flag bits.
    let values: UnsafeMutablePointer<UInt64>
    let stamps: UnsafeMutablePointer<UInt64>
    var clock: UInt64 = 0
    var hits: UInt64 = 0
    var misses: UInt64 = 0
    var flushes: UInt64 = 0

    static let invalidTag = UInt64.max
    /// VPNs are the 36 bits of a 48-bit address; the ASID goes above them.
    static let asidShift: UInt64 = 36

    init(entries: Int, ways: Int) {
        self.ways = ways
        sets = entries / ways
        setMask = sets & (sets - 1) == 0 ? sets - 1 : -1
        tags = .allocate(capacity: entries)
        tags.initialize(repeating: Self.invalidTag, count: entries)
        values = .allocate(capacity: entries)
        values.initialize(repeating: 0, count: entries)
        stamps = .allocate(capacity: entries)
        stamps.initialize(repeating: 0, count: entries)
    }

    deinit {
        tags.deallocate()
        values.deallocate()
        stamps.deallocate()
    }

    @inline(__always) static func vpn(_ address: UInt64) -> UInt64 { (address & 0xffff_ffff_ffff) >> Page.shift }

    @inline(__always) func firstWay(vpn: UInt64) -> Int {
        (setMask >= 0 ? Int(truncatingIfNeeded: vpn) & setMask : Int(vpn % UInt64(sets))) &* ways
    }

    /// The way holding `tag`, or -1. Does not count or touch LRU.
    @inline(__always) func find(tag: UInt64, vpn: UInt64) -> Int {
        let base = firstWay(vpn: vpn)
        for w in base..<(base + ways) where tags[w] == tag { return w }
        return -1
    }

    /// Fills the LRU (or first empty) way of the set with `value`.
    @inline(__always) func insert(tag: UInt64, vpn: UInt64, value: UInt64) {
        let base = firstWay(vpn: vpn)
        var victim = base
        var w = base
        let end = base &+ ways
        while w < end {
            if tags[w] == Self.invalidTag {
                victim = w
                break
            }
            if stamps[w] < stamps[victim] { victim = w }
            w &+= 1
        }
        clock &+= 1
        tags[victim] = tag
        values[victim] = value
        stamps[victim] = clock
    }

    func flushAll() {
        tags.update(repeating: Self.invalidTag, count: sets * ways)
        flushes += 1
    }

    /// Drops every entry of one address space (PCID) — or all when PCID tags are not in use.
    func flush(asid: UInt64) {
        for w in 0..<(sets * ways) where tags[w] != Self.invalidTag && tags[w] >> Self.asidShift == asid {
            tags[w] = Self.invalidTag
        }
    }

    /// `invlpg`: drops the entry for one page of one address space.
    func invalidate(tag: UInt64, vpn: UInt64) {
        let w = find(tag: tag, vpn: vpn)
        if w >= 0 { tags[w] = Self.invalidTag }
    }

    var validCount: Int { (0..<(sets * ways)).reduce(0) { $0 + (tags[$1] != Self.invalidTag ? 1 : 0) } }
}
