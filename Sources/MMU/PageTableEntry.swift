/// The flag bits of an x86-64 page-table entry (`_PAGE_*` in arch/x86/include/asm/pgtable_types.h).
public struct PTEFlags: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// P: the entry maps something.
    public static let present = PTEFlags(rawValue: 1 << 0)
    /// RW: writes allowed.
    public static let writable = PTEFlags(rawValue: 1 << 1)
    /// US: user mode may access (clear = supervisor only).
    public static let user = PTEFlags(rawValue: 1 << 2)
    /// A: set by the walker on use.
    public static let accessed = PTEFlags(rawValue: 1 << 5)
    /// D: set by the walker on write.
    public static let dirty = PTEFlags(rawValue: 1 << 6)
    /// PS: this PD (2 MiB) or PDPT (1 GiB) entry maps a page, not a table.
    public static let hugePage = PTEFlags(rawValue: 1 << 7)
    /// G: survives a CR3 switch (kernel mappings).
    public static let global = PTEFlags(rawValue: 1 << 8)
    /// Software bit 9: private page shared after fork; a write copies it (the kernel tracks this in
    /// the VMA and page refcount; the simulator keeps it visible in the entry).
    public static let cow = PTEFlags(rawValue: 1 << 9)
    /// Software bit 10 in a non-present entry: the frame field holds a swap slot (`swp_entry_t`).
    public static let swapped = PTEFlags(rawValue: 1 << 10)
    /// NX: no instruction fetch.
    public static let noExecute = PTEFlags(rawValue: 1 << 63)

    static let named: [(PTEFlags, String)] = [
        (.present, "present"), (.writable, "writable"), (.user, "user"), (.accessed, "accessed"),
        (.dirty, "dirty"), (.hugePage, "hugePage"), (.global, "global"), (.cow, "cow"), (.swapped, "swapped"),
        (.noExecute, "noExecute"),
    ]

    /// The set flags by name, in bit order.
    public var names: [String] { Self.named.filter { contains($0.0) }.map(\.1) }
    public var description: String { names.joined(separator: "|") }
}

/// One 8-byte page-table entry: flags plus a physical frame number in bits 12–51.
public struct PageTableEntry: RawRepresentable, Sendable, Hashable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(pfn: UInt64, flags: PTEFlags) { rawValue = (pfn << Page.shift) | flags.rawValue }

    /// Bits 12–51: the physical address of the frame or next-level table.
    public static let frameMask: UInt64 = 0x000f_ffff_ffff_f000

    public var pfn: UInt64 { (rawValue & Self.frameMask) >> Page.shift }
    public var flags: PTEFlags { PTEFlags(rawValue: rawValue & ~Self.frameMask) }
    public var isPresent: Bool { rawValue & PTEFlags.present.rawValue != 0 }
}

/// The four levels of the x86-64 walk, top to bottom.
public enum PageLevel: Int, Sendable, CaseIterable, CustomStringConvertible {
    case pml4 = 3
    case pdpt = 2
    case pd = 1
    case pt = 0
    /// Shift of this level's 9-bit index in a virtual address.
    public var shift: UInt64 { Page.shift + 9 * UInt64(rawValue) }
    public var description: String {
        switch self {
        case .pml4: "pml4"
        case .pdpt: "pdpt"
        case .pd: "pd"
        case .pt: "pt"
        }
    }
}

/// The five fields of a virtual address: four 9-bit table indices and the 12-bit page offset.
public struct PageIndices: Sendable, Hashable {
    public var pml4: Int, pdpt: Int, pd: Int, pt: Int, offset: Int

    public init(pml4: Int, pdpt: Int, pd: Int, pt: Int, offset: Int) {
        (self.pml4, self.pdpt, self.pd, self.pt, self.offset) = (pml4, pdpt, pd, pt, offset)
    }

    public init(address: UInt64) {
        pml4 = Int((address >> 39) & 511)
        pdpt = Int((address >> 30) & 511)
        pd = Int((address >> 21) & 511)
        pt = Int((address >> 12) & 511)
        offset = Int(address & 0xfff)
    }

    func index(at level: PageLevel) -> Int {
        switch level {
        case .pml4: pml4
        case .pdpt: pdpt
        case .pd: pd
        case .pt: pt
        }
    }
}

/// A 48-bit canonical address has bits 63–47 all equal (else the CPU raises #GP: segv).
@inline(__always) func isCanonical(_ address: UInt64) -> Bool {
    let top = address >> 47
    return top == 0 || top == 0x1ffff
}
