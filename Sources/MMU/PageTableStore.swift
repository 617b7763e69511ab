/// The contents of every page-table page of a machine, 512 entries per table, in one contiguous buffer.
///
/// A table lives in a physical frame (its entries point to frames by number, as on hardware); the
/// store keeps the 512 entries of each table in a slot and a frame → slot index, so a walk is a few
/// loads from two flat buffers: no objects, no dictionaries. Buffers grow only in the slow path
/// (allocating a table); the hot loop may hold their base pointers between growths.
final class PageTableStore {
    private(set) var entries: UnsafeMutablePointer<UInt64>
    /// Parallel to `entries`: for an entry that points to a table, that table's slot (else -1), so the
    /// walk's next table is loaded beside the entry instead of after it (4 dependent loads, as hardware).
    private(set) var children: UnsafeMutablePointer<Int32>
    private(set) var slotCapacity: Int
    private(set) var slotCount = 0
    private var freeSlots: [Int32] = []
    /// pfn → slot, -1 for frames that are not tables.
    private(set) var slotByFrame: UnsafeMutablePointer<Int32>
    private(set) var slotByFrameCapacity: Int
    private(set) var frameBySlot: [Int] = []

    init() {
        slotCapacity = 16
        entries = .allocate(capacity: slotCapacity * Page.entriesPerTable)
        children = .allocate(capacity: slotCapacity * Page.entriesPerTable)
        slotByFrameCapacity = 1024
        slotByFrame = .allocate(capacity: slotByFrameCapacity)
        slotByFrame.initialize(repeating: -1, count: slotByFrameCapacity)
    }

    deinit {
        entries.deallocate()
        children.deallocate()
        slotByFrame.deallocate()
    }

    /// Makes frame `pfn` a zeroed table; returns its slot.
    func create(frame pfn: Int) -> Int {
        let slot: Int
        if let s = freeSlots.popLast() {
            slot = Int(s)
        } else {
            if slotCount == slotCapacity {
                let newCap = slotCapacity * 2
                let grown = UnsafeMutablePointer<UInt64>.allocate(capacity: newCap * Page.entriesPerTable)
                grown.moveInitialize(from: entries, count: slotCount * Page.entriesPerTable)
                entries.deallocate()
                entries = grown
                let grownChildren = UnsafeMutablePointer<Int32>.allocate(capacity: newCap * Page.entriesPerTable)
                grownChildren.moveInitialize(from: children, count: slotCount * Page.entriesPerTable)
                children.deallocate()
                children = grownChildren
                slotCapacity = newCap
            }
            slot = slotCount
            slotCount += 1
            frameBySlot.append(0)
        }
        (entries + slot * Page.entriesPerTable).update(repeating: 0, count: Page.entriesPerTable)
        (children + slot * Page.entriesPerTable).update(repeating: -1, count: Page.entriesPerTable)
        if pfn >= slotByFrameCapacity {
            var newCap = slotByFrameCapacity
            while newCap <= pfn { newCap *= 2 }
            let grown = UnsafeMutablePointer<Int32>.allocate(capacity: newCap)
            grown.moveInitialize(from: slotByFrame, count: slotByFrameCapacity)
            (grown + slotByFrameCapacity).initialize(repeating: -1, count: newCap - slotByFrameCapacity)
            slotByFrame.deallocate()
            slotByFrame = grown
            slotByFrameCapacity = newCap
        }
        slotByFrame[pfn] = Int32(slot)
        frameBySlot[slot] = pfn
        return slot
    }

    func destroy(slot: Int) {
        slotByFrame[frameBySlot[slot]] = -1
        freeSlots.append(Int32(slot))
    }

    @inline(__always) func slot(ofFrame pfn: Int) -> Int {
        pfn < slotByFrameCapacity ? Int(slotByFrame[pfn]) : -1
    }

    /// Points entry `index` of table `slot` at the table in `child` (a non-leaf entry).
    func link(_ slot: Int, _ index: Int, to child: Int, flags: PTEFlags) {
        entries[slot &* Page.entriesPerTable &+ index] =
            PageTableEntry(pfn: UInt64(frameBySlot[child]), flags: flags).rawValue
        children[slot &* Page.entriesPerTable &+ index] = Int32(child)
    }

    /// Copies one entry with its child link (a process PML4 taking the kernel half of swapper_pg_dir).
    func copyEntry(from: (slot: Int, index: Int), to: (slot: Int, index: Int)) {
        entries[to.slot &* Page.entriesPerTable &+ to.index] = entries[from.slot &* Page.entriesPerTable &+ from.index]
        children[to.slot &* Page.entriesPerTable &+ to.index] =
            children[from.slot &* Page.entriesPerTable &+ from.index]
    }

    @inline(__always) subscript(slot: Int, index: Int) -> UInt64 {
        get { entries[slot &* Page.entriesPerTable &+ index] }
        set { entries[slot &* Page.entriesPerTable &+ index] = newValue }
    }

    /// Where the last-level entry that a walk of `va` from `root` reads lies in `entries`: the PT entry,
    /// or, for a huge page or a missing table, some entry of slot 0. Reads only child links of the upper
    /// levels (which a stream of walks keeps in the host's L1 cache), and stays inside the buffers
    /// whatever `va` is: a missing table's link (-1) becomes slot 0.
    @inline(__always)
    static func leafHint(_ va: UInt64, root: Int, children: UnsafeMutablePointer<Int32>) -> Int {
        leafHint(va, pd: pdHint(va, root: root, children: children), children: children)
    }

    /// `leafHint` from the slot of the PD of `va`'s 1 GiB region.
    @inline(__always)
    static func leafHint(_ va: UInt64, pd: Int, children: UnsafeMutablePointer<Int32>) -> Int {
        child(pd, va >> 21, children) &* 512 &+ Int(truncatingIfNeeded: (va >> 12) & 511)
    }

    /// The slot of the PD that a walk of `va` from `root` reaches, as `leafHint` tells it.
    @inline(__always)
    static func pdHint(_ va: UInt64, root: Int, children: UnsafeMutablePointer<Int32>) -> Int {
        child(child(root, va >> 39, children), va >> 30, children)
    }

    /// The slot linked from entry `index & 511` of `slot`; 0 for none (-1 becomes 0 without a branch).
    @inline(__always)
    private static func child(_ slot: Int, _ index: UInt64, _ children: UnsafeMutablePointer<Int32>) -> Int {
        let c = Int(truncatingIfNeeded: children[slot &* 512 &+ Int(truncatingIfNeeded: index & 511)])
        return c & ~(c >> 63)
    }
}
