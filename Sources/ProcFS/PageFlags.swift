/// One 8-byte word of /proc/kpageflags: what a page frame is to the kernel (the `KPF_*` bits of
/// include/uapi/linux/kernel-page-flags.h, set by `stable_page_flags` in fs/proc/page.c).
///
/// Members are named as the kernel's `tools/vm/page-types.c` names them (`page_flag_names`, the
/// part after the colon), in bit order.
public struct KernelPageFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static let locked = bit(0)
    public static let error = bit(1)
    public static let referenced = bit(2)
    public static let uptodate = bit(3)
    public static let dirty = bit(4)
    public static let lru = bit(5)
    public static let active = bit(6)
    public static let slab = bit(7)
    public static let writeback = bit(8)
    public static let reclaim = bit(9)
    public static let buddy = bit(10)
    public static let mmap = bit(11)
    public static let anonymous = bit(12)
    public static let swapcache = bit(13)
    public static let swapbacked = bit(14)
    public static let compoundHead = bit(15)
    public static let compoundTail = bit(16)
    /// A hugetlbfs page (`KPF_HUGE`); a transparent huge page is `thp`.
    public static let huge = bit(17)
    public static let unevictable = bit(18)
    public static let hwpoison = bit(19)
    public static let nopage = bit(20)
    public static let ksm = bit(21)
    public static let thp = bit(22)
    public static let offline = bit(23)
    /// The shared zero page (or the huge zero page).
    public static let zeroPage = bit(24)
    /// Idle-page tracking's (and DAMON's) idle mark.
    public static let idlePage = bit(25)
    public static let pgtable = bit(26)

    static func bit(_ n: UInt64) -> KernelPageFlags { KernelPageFlags(rawValue: 1 << n) }

    /// Bits 32–47, "kernel hacking assistances" that page-types hides unless `-r`.
    public static let hackerBits: UInt64 = 0xffff << 32

    /// The flags as `page-types` shows them without `-r` (`well_known_flags`): the kernel
    /// hackers' bits hidden, and compound head/tail hidden unless the page is a hugetlb page.
    public var wellKnown: KernelPageFlags {
        var raw = rawValue & ~Self.hackerBits
        let compound = Self.compoundHead.rawValue | Self.compoundTail.rawValue
        if raw & compound != 0, raw & Self.huge.rawValue == 0 { raw &= ~compound }
        return KernelPageFlags(rawValue: raw)
    }

    /// The names of the set bits that have one, in bit order (page-types' long-symbolic-flags).
    public var names: [String] {
        PageFlagName.table.compactMap { contains(KernelPageFlags(rawValue: 1 << $0.bit)) ? $0.name : nil }
    }

    /// The flags named `names` (page-types' long names); nil if one is not a flag's name.
    public init?(names: [String]) {
        var raw: UInt64 = 0
        for name in names {
            guard let entry = PageFlagName.table.first(where: { $0.name == name }) else { return nil }
            raw |= 1 << entry.bit
        }
        self.init(rawValue: raw)
    }
}

/// page-types' `page_flag_names`: a bit, its one-letter symbol and its long name.
public struct PageFlagName: Sendable {
    public let bit: UInt64
    public let symbol: Character
    public let name: String

    /// Every name page-types knows, in bit order (its symbolic-flags column has a letter or `_`
    /// for each). Bits 32–47 are the hackers' (hidden by default); 47–51 and 61–63 page-types
    /// makes itself with `-r`.
    public static let table: [PageFlagName] = [
        (0, "L", "locked"), (1, "E", "error"), (2, "R", "referenced"), (3, "U", "uptodate"), (4, "D", "dirty"),
        (5, "l", "lru"), (6, "A", "active"), (7, "S", "slab"), (8, "W", "writeback"), (9, "I", "reclaim"),
        (10, "B", "buddy"), (11, "M", "mmap"), (12, "a", "anonymous"), (13, "s", "swapcache"),
        (14, "b", "swapbacked"), (15, "H", "compound_head"), (16, "T", "compound_tail"), (17, "G", "huge"),
        (18, "u", "unevictable"), (19, "X", "hwpoison"), (20, "n", "nopage"), (21, "x", "ksm"), (22, "t", "thp"),
        (23, "o", "offline"), (24, "z", "zero_page"), (25, "i", "idle_page"), (26, "g", "pgtable"),
        (32, "r", "reserved"), (33, "m", "mlocked"), (34, "d", "mappedtodisk"), (35, "P", "private"),
        (36, "p", "private_2"), (37, "O", "owner_private"), (38, "h", "arch"), (39, "c", "uncached"),
        (40, "f", "softdirty"), (41, "H", "arch_2"), (47, "d", "anon_exclusive"), (48, "I", "readahead"),
        (49, "P", "slob_free"), (50, "A", "slub_frozen"), (51, "E", "slub_debug"), (61, "F", "file"),
        (62, "w", "swap"), (63, "1", "mmap_exclusive"),
    ].map { PageFlagName(bit: $0.0, symbol: $0.1, name: $0.2) }

    /// The flags a `pageFlags` result counts: those page-types shows by default (bits 0–26).
    public static let wellKnown: [PageFlagName] = table.filter { $0.bit < 32 }

    /// page-types' symbolic-flags column: for every name, its letter when set, else `_`.
    public static func symbolic(_ flags: UInt64) -> String {
        String(table.map { flags & (1 << $0.bit) != 0 ? $0.symbol : "_" })
    }
}
