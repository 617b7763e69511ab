/// A set-associative translation lookaside buffer with LRU replacement within each set.
///
/// One per simulated CPU, persisting across calls. Set index = VPN mod number of sets. Each way
/// holds a tag (VPN and, with PCID, the address-space id), the cached entry (frame number and the
/// effective permission bits) and an LRU stamp. Flushed on an address-space switch unless PCID is on
/// (`switch_mm_irqs_off`); single entries are invalidated (`invlpg`) on munmap, CoW break and
/// permission change.
///
/// The ways of a set lie side by side in one buffer (tag, value and stamp of a way in one 24-byte
/// record), and an empty way's stamp is 0 while every filled way's is ≥ 1: the victim for a fill —
/// the first empty way, else the least recently used — is then simply the first way with the
/// smallest stamp, found in the same pass that looks for the tag.
final class TLB {
    /// One way of a set.
    struct Way {
        /// `invalidTag` when empty.
        var tag: UInt64
        /// The cached entry: pfn << 12 | effective flag bits.
        var value: UInt64
        /// The clock when last used; 0 when empty.
        var stamp: UInt64
    }

    let sets: Int
    let ways: Int
    /// `sets - 1` when sets is a power of two, else -1 (then `%` is used).
    let setMask: Int
    /// `sets * ways` ways, set by set.
    let slots: UnsafeMutablePointer<Way>
    var clock: UInt64 = 0
    var hits: UInt64 = 0
    var misses: UInt64 = 0
    var flushes: UInt64 = 0

    static let invalidTag = UInt64.max
    static let empty = Way(tag: invalidTag, value: 0, stamp: 0)
    /// VPNs are the 36 bits of a 48-bit address; the ASID goes above them.
    static let asidShift: UInt64 = 36

    init(entries: Int, ways: Int) {
        self.ways = ways
        sets = entries / ways
        setMask = sets & (sets - 1) == 0 ? sets - 1 : -1
        slots = .allocate(capacity: entries)
        slots.initialize(repeating: Self.empty, count: entries)
    }

    deinit {
        slots.deallocate()
    }

    @inline(__always) static func vpn(_ address: UInt64) -> UInt64 { (address & 0xffff_ffff_ffff) >> Page.shift }

    @inline(__always) func firstWay(vpn: UInt64) -> Int {
        (setMask >= 0 ? Int(truncatingIfNeeded: vpn) & setMask : Int(vpn % UInt64(sets))) &* ways
    }

    /// The way holding `tag`, or -1. Does not count or touch LRU.
    @inline(__always) func find(tag: UInt64, vpn: UInt64) -> Int {
        let base = firstWay(vpn: vpn)
        for w in base..<(base + ways) where slots[w].tag == tag { return w }
        return -1
    }

    /// Marks way `w` the most recently used.
    @inline(__always) func touch(_ w: Int) {
        clock &+= 1
        slots[w].stamp = clock
    }

    /// Fills the first empty way of the set, else its least recently used one, with `value`.
    @inline(__always) func insert(tag: UInt64, vpn: UInt64, value: UInt64) {
        let base = firstWay(vpn: vpn)
        var victim = base
        var w = base &+ 1
        let end = base &+ ways
        while w < end {
            if slots[w].stamp < slots[victim].stamp { victim = w }
            w &+= 1
        }
        clock &+= 1
        slots[victim] = Way(tag: tag, value: value, stamp: clock)
    }

    func flushAll() {
        slots.update(repeating: Self.empty, count: sets * ways)
        flushes += 1
    }

    /// Drops every entry of one address space (PCID) — or all when PCID tags are not in use.
    func flush(asid: UInt64) {
        for w in 0..<(sets * ways) where slots[w].tag != Self.invalidTag && slots[w].tag >> Self.asidShift == asid {
            slots[w] = Self.empty
        }
    }

    /// `invlpg`: drops the entry for one page of one address space.
    func invalidate(tag: UInt64, vpn: UInt64) {
        let w = find(tag: tag, vpn: vpn)
        if w >= 0 { slots[w] = Self.empty }
    }

    var validCount: Int { (0..<(sets * ways)).reduce(0) { $0 + (slots[$1].tag != Self.invalidTag ? 1 : 0) } }
}
