/// Page geometry of x86-64 with 4-level paging.
public enum Page {
    /// 4 KiB: the base page size (`PAGE_SIZE`).
    public static let size: UInt64 = 4096
    public static let shift: UInt64 = 12
    /// 2 MiB: a PMD-level huge page (`HPAGE_PMD_SIZE`).
    public static let hugeSize: UInt64 = 2 << 20
    /// Entries per table page (`PTRS_PER_PTE`).
    public static let entriesPerTable = 512

    @inline(__always) static func roundUp(_ bytes: UInt64) -> UInt64 { (bytes &+ size &- 1) & ~(size &- 1) }
    @inline(__always) static func roundDown(_ bytes: UInt64) -> UInt64 { bytes & ~(size &- 1) }
}

/// Well-known addresses of the simulated kernel and process layout.
public enum Layout {
    /// Linux's direct map of all physical memory (`PAGE_OFFSET` without KASLR).
    public static let directMapBase: UInt64 = 0xffff_8880_0000_0000
    /// Kernel text (`__START_KERNEL_map` + 16 MiB).
    public static let kernelTextBase: UInt64 = 0xffff_ffff_8100_0000
    /// Size of the simulated kernel image (text frames at the bottom of physical memory).
    public static let kernelTextBytes: UInt64 = 1 << 20
    /// Where a (non-PIE) program is linked: text starts here.
    public static let linkedAddress: UInt64 = 0x40_0000
    /// Lowest address mmap hands out or honours (`vm.mmap_min_addr`).
    public static let mmapMinAddress: UInt64 = 0x1_0000
    /// Gap between the stack top and `mmap_base` (the kernel's minimum gap, 128 MiB).
    public static let stackGap: UInt64 = 128 << 20
    /// Initial heap (`[heap]`) size given by `spawn`.
    public static let heapBytes: UInt64 = 132 << 10
}

/// The three access kinds a page fault distinguishes.
public enum Access: String, Sendable, CaseIterable {
    case read, write, exec
}

/// CPU privilege of an access: user mode obeys the US bit, kernel mode does not.
public enum Mode: String, Sendable, CaseIterable {
    case user, kernel
}

/// How the machine addresses memory: through an MMU, or physically (no translation at all).
public enum Addressing: String, Sendable, CaseIterable {
    case virtual, physical
}

/// What one translation (or access) ended in.
public enum Outcome: String, Sendable, CaseIterable, Hashable {
    /// Walked the page tables (TLB miss) and the entry allowed the access.
    case translated
    /// Found in the TLB.
    case tlbHit
    /// Handled fault without I/O (zero page, new anonymous frame, page already in the page cache).
    case minorFault
    /// Handled fault that read the page from "disk" (counted in pgpgin).
    case majorFault
    /// Minor fault that was a write to a copy-on-write page (copy, or just re-enable write).
    case cowFault
    /// No page there yet (only with `dryRun`: nothing is handled).
    case notPresent
    /// The page is in swap (only with `dryRun`).
    case swapped
    /// The access is not allowed: no mapping, wrong permission, kernel address, non-canonical.
    case segv
}
