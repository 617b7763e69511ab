/// Why an access was refused (the process gets SIGSEGV).
public struct SegvInfo: Sendable, Equatable {
    public var address: UInt64
    /// e.g. "no mapping (SEGV_MAPERR)", "write to read-only mapping (SEGV_ACCERR)".
    public var reason: String
}

/// `sim.spawn`'s result.
public struct SpawnResult: Sendable, Equatable {
    /// nil when the process could not be created (then `errno` says why).
    public var pid: Int?
    public var mappings: [MappingInfo]
    /// Where the program is linked (text start) and where it was actually loaded. They differ only in
    /// physical addressing, when another program already occupies the linked address.
    public var linkedAddress: UInt64
    public var loadAddress: UInt64
    /// "ENOMEM" when no memory could be found for the process (physical mode: no contiguous run).
    public var errno: String? = nil
    /// Physical mode only: set when the program could not be placed at its linked address.
    public var problem: String? = nil
}

/// `sim.mmap`'s result: an address, or a simulated failure (never a thrown error).
public struct MmapResult: Sendable, Equatable {
    public var address: UInt64?
    /// "ENOMEM" when the virtual (or, in physical mode, contiguous physical) space ran out.
    public var errno: String?
    /// Physical mode failure: the largest contiguous free run and the total free bytes.
    public var largestFreeRun: UInt64?
    public var freeBytes: UInt64?
}

/// `sim.touch`'s result (also the fault part of read/write).
public struct TouchResult: Sendable, Equatable {
    public var pagesTouched = 0
    public var minorFaults = 0
    public var majorFaults = 0
    /// Subset of `minorFaults`.
    public var cowFaults = 0
    /// Set when an access was refused; the process was killed by SIGSEGV (it no longer exists).
    public var segv: SegvInfo?
    /// Pids the OOM killer killed during this call (may include the caller's pid).
    public var oomKilled: [Int] = []
    public init() {}
}

/// `sim.read`'s result: the bytes (empty when the access failed) and what the accesses caused.
public struct ReadResult: Sendable, Equatable {
    public var bytes: [UInt8]
    public var faults: TouchResult
}

/// One level of a page walk, for `trace`.
public struct WalkStep: Sendable, Equatable {
    public var level: PageLevel
    public var index: Int
    /// Frame number of the table page read at this level.
    public var tableFrame: UInt64
    /// The raw entry.
    public var entry: UInt64
    public var flags: PTEFlags
}

/// One translation (`simulateTranslation` with `machine` + `pid`).
public struct Translation: Sendable, Equatable {
    public var address: UInt64
    /// address >> 12.
    public var vpn: UInt64
    public var indices: PageIndices
    /// The covering mapping (user half), nil if none.
    public var mapping: MappingInfo?
    public var isPresent: Bool
    public var pfn: UInt64?
    public var physicalAddress: UInt64?
    public var outcome: Outcome
    /// 4096, 2 MiB or 1 GiB when present.
    public var pageSize: UInt64?
    /// With `trace`: the walk, top to bottom, as the tables stand after the access.
    public var walk: [WalkStep]?
    public var segv: SegvInfo?
    public var oomKilled: [Int] = []
    /// Physical addressing: the pid owning the physical address (another process's memory is not protected).
    public var physicalOwner: Int?
}

/// An access pattern for batch translation; `count` accesses, generated without allocation.
public enum AddressPattern: Sendable, Equatable {
    /// start, start+4096, … (one access per page), wrapping within `length`.
    case sequential(start: UInt64, length: UInt64, count: Int)
    /// start, start+stride, …, wrapping within `length`.
    case stride(start: UInt64, length: UInt64, stride: UInt64, count: Int)
    /// start + (xorshift64(13, 7, 17) mod length), seeded (seed 0 is replaced by 88172645463325252).
    case random(start: UInt64, length: UInt64, seed: UInt64, count: Int)
    /// Explicit addresses.
    case addresses([UInt64])
}

/// Summary of a batch translation (what `summaryOnly` returns).
public struct TranslationSummary: Sendable, Equatable {
    public var count = 0
    /// Outcome → count; every outcome present (0 when none).
    public var outcomes: [Outcome: Int] = [:]
    public var tlbHits: UInt64 = 0
    public var tlbMisses: UInt64 = 0
    /// Wrapping sum of all physical addresses translated (the anchors' checksum).
    public var physicalAddressSum: UInt64 = 0
    /// The batch stopped early because the process was OOM-killed.
    public var oomKilled: [Int] = []
    public init() {}
}

/// Per-process counters (`ps -o vsz,rss,maj_flt,min_flt`, sizes in bytes).
public struct ProcessStats: Sendable, Equatable {
    public var pid: Int
    public var command: String
    public var vsz: UInt64
    public var rss: UInt64
    public var minflt: UInt64
    public var majflt: UInt64
    public var cowFaults: UInt64
    /// Bytes in swap (VmSwap).
    public var swap: UInt64
}

/// A one-line summary for `sim.list`.
public struct MachineSummary: Sendable, Equatable {
    public var processes: Int
    public var usedBytes: UInt64
    public var freeBytes: UInt64
    public var minorFaults: UInt64
    public var majorFaults: UInt64
    public var cowFaults: UInt64
    public var oomKills: UInt64
    public var isPanicked: Bool
}

/// What a frame is, for tests and tools.
public struct FrameInfo: Sendable, Equatable {
    public var pfn: Int
    public var owner: FrameOwner
    public var refcount: Int
}

/// `sim.munmap`'s result: frames freed, or the errno Linux would give (nothing changed then).
public struct MunmapResult: Sendable, Equatable {
    public var freedPages: Int
    public var errno: String?
    public init(freedPages: Int, errno: String? = nil) {
        self.freedPages = freedPages
        self.errno = errno
    }
}
