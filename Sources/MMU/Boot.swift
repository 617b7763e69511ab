extension Machine {
    /// Intermediate-entry flags: user tables (`_PAGE_TABLE`) and kernel tables (`_KERNPG_TABLE`).
    static let userTableFlags: PTEFlags = [.present, .writable, .user, .accessed]
    static let kernelTableFlags: PTEFlags = [.present, .writable, .accessed]

    /// Sets up what the kernel owns before any process: kernel text frames at the bottom of physical
    /// memory, the zero page, and swapper_pg_dir with the direct map (2 MiB pages, 4 KiB for a tail)
    /// and kernel text (4 KiB pages), all supervisor-only and global.
    func boot() {
        if config.addressing == .physical {
            bootPhysical()
            return
        }
        let textFrames = Int(Layout.kernelTextBytes >> Page.shift)
        for _ in 0..<textFrames { _ = memory.allocate(.kernel) }
        zeroFrame = memory.allocate(.zero)!
        let rootFrame = memory.allocate(.pageTable)!
        kernelPML4Slot = tables.create(frame: rootFrame)

        let dataFlags: PTEFlags = [.present, .writable, .accessed, .dirty, .global, .noExecute]
        let frames = UInt64(memory.frameCount)
        var pfn: UInt64 = 0
        while pfn < frames {
            let va = Layout.directMapBase + (pfn << Page.shift)
            if pfn % 512 == 0 && frames - pfn >= 512 {
                let pd = bootTable(va, down: .pd)
                tables[pd, PageIndices(address: va).pd] =
                    PageTableEntry(pfn: pfn, flags: dataFlags.union(.hugePage)).rawValue
                pfn += 512
            } else {
                let pt = bootTable(va, down: .pt)
                tables[pt, PageIndices(address: va).pt] = PageTableEntry(pfn: pfn, flags: dataFlags).rawValue
                pfn += 1
            }
        }
        for i in 0..<UInt64(textFrames) {
            let va = Layout.kernelTextBase + (i << Page.shift)
            let pt = bootTable(va, down: .pt)
            tables[pt, PageIndices(address: va).pt] =
                PageTableEntry(pfn: i, flags: [.present, .accessed, .global]).rawValue
        }
    }

    /// The slot of the table at `level` covering kernel address `va`, creating tables on the way.
    private func bootTable(_ va: UInt64, down level: PageLevel) -> Int {
        var slot = kernelPML4Slot
        var current = PageLevel.pml4
        while current != level {
            let i = PageIndices(address: va).index(at: current)
            let e = tables[slot, i]
            if e & PTEFlags.present.rawValue != 0 {
                slot = tables.slot(ofFrame: Int(PageTableEntry(rawValue: e).pfn))
            } else {
                let f = memory.allocate(.pageTable)!
                let s = tables.create(frame: f)
                tables.link(slot, i, to: s, flags: Self.kernelTableFlags)
                slot = s
            }
            current = PageLevel(rawValue: current.rawValue - 1)!
        }
        return slot
    }
}
