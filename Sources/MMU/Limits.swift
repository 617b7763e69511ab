import Synchronization

/// What one simulated machine may take (limits.md §1–2); the server sets them from memd's options.
public struct MachineLimits: Sendable {
    /// Processes alive at once (`--max-sim-processes`; beyond: `resourceLimit` "simProcesses").
    public var maxProcesses = 1024
    /// Mappings per process (Linux's `vm.max_map_count`; beyond: mmap's `errno: "ENOMEM"`).
    public var maxMappings = 65_530
    /// Accesses one `touch` or `translateBatch` may do (beyond: `resourceLimit` "accesses"). Unlimited
    /// for the library's own users (benchmarks); memd sets the contract's 10,000,000.
    public var maxAccesses = Int.max
    /// Accesses between two stop checks (cancellation; the contract asks for at least every 65,536;
    /// 16,384 faults take about 40 ms even in a debug build).
    public var stopCheckInterval = 16_384
    /// Host memory shared with other machines (`--max-sim-memory`); nil: unlimited.
    public var budget: (any SimMemoryBudget)?

    public init(
        maxProcesses: Int = 1024,
        maxMappings: Int = 65_530,
        maxAccesses: Int = Int.max,
        budget: (any SimMemoryBudget)? = nil
    ) {
        self.maxProcesses = maxProcesses
        self.maxMappings = maxMappings
        self.maxAccesses = maxAccesses
        self.budget = budget
    }
}

/// Host memory for all simulated machines together (`--max-sim-memory`). A machine takes bytes
/// before it grows (page tables, frame metadata, page contents, page cache, swap and disk data,
/// mappings) and gives them back when it shrinks or goes away. Thread-safe: machines run in parallel.
public protocol SimMemoryBudget: AnyObject, Sendable {
    var limit: Int { get }
    /// Bytes taken by all machines now.
    var used: Int { get }
    /// Takes `bytes` when `used + bytes` stays within `limit`; false (nothing taken) otherwise.
    func reserve(_ bytes: Int) -> Bool
    func release(_ bytes: Int)
}

/// A host-memory budget that machines share: `limit` bytes in all, taken and given back under a
/// lock (memd's `--max-sim-memory` for every machine; one machine's in a test or a fuzz run).
public final class MemoryBudget: SimMemoryBudget {
    public let limit: Int
    private let taken = Mutex(0)

    public init(limit: Int) { self.limit = limit }

    public var used: Int { taken.withLock { $0 } }

    public func reserve(_ bytes: Int) -> Bool {
        taken.withLock { used in
            guard bytes <= limit - used else { return false }
            used += bytes
            return true
        }
    }

    public func release(_ bytes: Int) { taken.withLock { $0 -= bytes } }
}

/// The one place where numbers from a request are checked before any arithmetic (limits.md §1):
/// one function per kind of value. A failure is `invalidArgument` naming the param; the callers turn
/// the cases where Linux answers with an errno into that result instead.
enum Checked {
    /// Largest file size (and end of a file offset + length): 1 TiB.
    static let maxFileBytes: UInt64 = 1 << 40
    /// `offset + length` of a file mapping stays at or below 2^63 (`loff_t` is signed).
    static let maxFileEnd: UInt64 = 1 << 63

    /// A length: positive, and rounded up to whole pages without passing 2^64. Returns the rounded size.
    static func length(_ length: UInt64, _ param: String = "length") throws(MMUError) -> UInt64 {
        guard length > 0 else { throw .invalid(param, "must be positive") }
        guard length <= UInt64.max - (Page.size - 1) else {
            throw .invalid(param, "too large: rounding up to pages overflows")
        }
        return Page.roundUp(length)
    }

    /// `[address, address + length)`: the end must stay below 2^64. Returns the end.
    static func end(_ address: UInt64, _ length: UInt64, _ param: String = "length") throws(MMUError) -> UInt64 {
        guard length <= UInt64.max - address else {
            throw .invalid(param, "address + length passes 2^64 (address 0x\(String(address, radix: 16)))")
        }
        return address + length
    }

    /// A page-aligned address (munmap, mprotect).
    static func aligned(_ address: UInt64, _ param: String = "address") throws(MMUError) -> UInt64 {
        guard address % Page.size == 0 else { throw .invalid(param, "must be page-aligned") }
        return address
    }

    /// A file offset: page-aligned, and `offset + size ≤ 2^63`.
    static func fileOffset(_ offset: UInt64, size: UInt64) throws(MMUError) -> UInt64 {
        guard offset % Page.size == 0 else { throw .invalid("offset", "must be page-aligned") }
        guard size <= maxFileEnd, offset <= maxFileEnd - size else {
            throw .invalid("offset", "offset + length must be at most 2^63")
        }
        return offset
    }

    /// A file size (or the end of a write into a file): at most 1 TiB.
    static func fileBytes(_ bytes: UInt64, _ param: String = "file") throws(MMUError) -> UInt64 {
        guard bytes <= maxFileBytes else { throw .invalid(param, "sizeBytes must be at most 1 TiB") }
        return bytes
    }

    /// The accesses of `length` bytes every `stride` bytes: ⌈length / stride⌉, within `limit`.
    static func accesses(length: UInt64, stride: UInt64, limit: Int) throws(MMUError) -> Int {
        guard stride > 0 else { throw .invalid("stride", "must be positive") }
        let count = length / stride + (length % stride == 0 ? 0 : 1)
        return try accesses(count: count, limit: limit)
    }

    /// A count of accesses within `limit` (`resourceLimit` "accesses" beyond).
    static func accesses(count: UInt64, limit: Int) throws(MMUError) -> Int {
        guard count <= UInt64(limit) else {
            throw .limit("accesses", limit: limit, requested: count > UInt64(Int.max) ? Int.max : Int(count))
        }
        return Int(count)
    }
}
