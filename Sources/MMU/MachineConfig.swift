/// How a simulated machine is built (`sim.create`'s params). Defaults as in the brief.
public struct MachineConfig: Sendable, Equatable {
    /// RAM, a multiple of 4 KiB, 4 MiB … 64 GiB.
    public var physicalBytes: UInt64 = 64 << 20
    /// TLB entries and associativity; entries must be a multiple of ways.
    public var tlbEntries = 64
    public var tlbWays = 4
    /// Tag TLB entries with the address space (PCID) so a switch does not flush.
    public var pcid = false
    /// Width of the user address space, 32 … 47 (47 = x86-64 user half; 32 shows the 4 GiB limit).
    public var addressBits = 47
    /// Anonymous faults in a 2 MiB-aligned range fully inside the mapping take a 2 MiB page (THP).
    public var hugePages = false
    public var addressing: Addressing = .virtual
    /// On OOM, panic the machine instead of killing a process (`vm.panic_on_oom`).
    public var panicOnOom = false
    /// Swap space: when page cache cannot be reclaimed, private anonymous pages go to swap (major fault
    /// to bring them back) before the OOM killer runs.
    public var swapBytes: UInt64 = 0

    public init(
        physicalBytes: UInt64 = 64 << 20,
        tlbEntries: Int = 64,
        tlbWays: Int = 4,
        pcid: Bool = false,
        addressBits: Int = 47,
        hugePages: Bool = false,
        addressing: Addressing = .virtual,
        panicOnOom: Bool = false,
        swapBytes: UInt64 = 0
    ) {
        self.physicalBytes = physicalBytes
        self.tlbEntries = tlbEntries
        self.tlbWays = tlbWays
        self.pcid = pcid
        self.addressBits = addressBits
        self.hugePages = hugePages
        self.addressing = addressing
        self.panicOnOom = panicOnOom
        self.swapBytes = swapBytes
    }

    /// Checks every field; the error names the parameter and why.
    public func validate() throws(MMUError) {
        guard physicalBytes % Page.size == 0 else { throw .invalid("physicalBytes", "must be a multiple of 4096") }
        guard physicalBytes >= 4 << 20, physicalBytes <= 64 << 30 else {
            throw .invalid("physicalBytes", "must be between 4 MiB and 64 GiB")
        }
        guard tlbEntries >= 1, tlbEntries <= 65536 else { throw .invalid("tlbEntries", "must be 1…65536") }
        guard tlbWays >= 1, tlbWays <= tlbEntries, tlbEntries % tlbWays == 0 else {
            throw .invalid("tlbWays", "must divide tlbEntries")
        }
        guard (32...47).contains(addressBits) else { throw .invalid("addressBits", "must be 32…47") }
        guard swapBytes % Page.size == 0, swapBytes <= 1 << 40 else {
            throw .invalid("swapBytes", "must be a multiple of 4096, at most 1 TiB")
        }
    }
}
