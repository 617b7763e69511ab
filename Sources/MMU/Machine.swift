/// A simulated machine: physical memory, one CPU's TLB, the page cache and its processes.
///
/// The façade the server drives (`sim.*`, `simulateTranslation`, and `meminfo`/`maps`/`pageStats`
/// with `source: "sim"`). Deterministic: the same calls give the same numbers, addresses and frames.
/// Not thread-safe: the owner serialises calls (one actor or lock per machine).
/// Every public method throws only `MMUError`; simulated failures are results.
public final class Machine {
    public let config: MachineConfig
    public let limits: MachineLimits
    /// Bytes taken from `limits.budget` (given back at deinit).
    var charged = 0
    /// What the mappings of all processes cost (see `recountMappings`).
    var mappingBytes = 0
    var memory: PhysicalMemory
    let tables = PageTableStore()
    let tlb: TLB
    var cache = PageCache()
    var processes: [Int: SimProcess] = [:]
    var nextPID = 1
    /// The address space loaded in CR3 (last pid translated for).
    var currentPID: Int?
    var panicReason: String?
    /// The shared zero page (`ZERO_PAGE(0)`).
    var zeroFrame = -1
    /// swapper_pg_dir: the kernel's PML4, whose upper half every process copies.
    var kernelPML4Slot = -1
    /// Physical addressing: contiguous allocations.
    var physical = ContiguousAllocator(frameCount: 0)

    // vmstat counters
    var pgpgin: UInt64 = 0
    var pgpgout: UInt64 = 0
    var pgfault: UInt64 = 0
    var pgmajfault: UInt64 = 0
    var minorFaults: UInt64 = 0
    var cowFaults: UInt64 = 0
    var pgscanDirect: UInt64 = 0
    var pgstealFile: UInt64 = 0
    var oomKills: UInt64 = 0
    var pswpin: UInt64 = 0
    var pswpout: UInt64 = 0
    var pgstealAnon: UInt64 = 0
    var swap: SwapSpace
    /// Where the next anonymous reclaim scan starts.
    var swapHand: (pid: Int, address: UInt64) = (0, 0)
    /// Pids killed by the OOM killer during the current call.
    var killedThisCall: [Int] = []

    /// Builds and boots a machine (kernel text, zero page, kernel page tables). Throws on a bad config.
    public init(config: MachineConfig = MachineConfig(), limits: MachineLimits = MachineLimits()) throws(MMUError) {
        try config.validate()
        self.config = config
        self.limits = limits
        memory = PhysicalMemory(frameCount: Int(config.physicalBytes >> Page.shift))
        tlb = TLB(entries: config.tlbEntries, ways: config.tlbWays)
        swap = SwapSpace(slotCount: Int(config.swapBytes >> Page.shift))
        boot()
        try ensureBudget(0)
    }

    deinit {
        if charged > 0 { limits.budget?.release(charged) }
    }

    /// Whether the machine has panicked; every later call throws `machinePanicked`.
    public var isPanicked: Bool { panicReason != nil }
    public var pids: [Int] { processes.keys.sorted() }

    func checkAlive() throws(MMUError) {
        if let panicReason { throw MMUError(code: .machinePanicked, message: panicReason) }
    }

    func process(_ pid: Int) throws(MMUError) -> SimProcess {
        try checkAlive()
        guard let p = processes[pid], p.isAlive else { throw .unknownPID(pid) }
        return p
    }

    func mappingInfo(_ v: VMA) -> MappingInfo {
        MappingInfo(start: v.start, end: v.end, perms: v.perms, offset: v.offset, path: v.path, kind: v.kind)
    }

    /// Top of the user stack: the end of the user address space minus a guard page (`TASK_SIZE`).
    var userTop: UInt64 { (1 << UInt64(config.addressBits)) - Page.size }
    /// Where top-down mmap starts (`mmap_base`).
    var mmapBase: UInt64 { userTop - Layout.stackGap }

    // MARK: - Processes

    /// `sim.spawn`: a new process with text (r-xp, the program file in the page cache), data (rw-p,
    /// the same file), `[heap]` and `[stack]`. Nothing is resident until touched.
    public func spawn(
        command: String = "prog",
        textBytes: UInt64 = 64 << 10,
        dataBytes: UInt64 = 16 << 10,
        stackBytes: UInt64 = 132 << 10
    ) throws(MMUError) -> SpawnResult {
        try checkAlive()
        guard !command.isEmpty, command.utf8.count <= 255 else { throw .invalid("command", "must be 1…255 bytes") }
        guard textBytes >= 1, textBytes <= 1 << 30 else { throw .invalid("textBytes", "must be 1 B … 1 GiB") }
        guard dataBytes <= 1 << 30 else { throw .invalid("dataBytes", "must be at most 1 GiB") }
        guard stackBytes >= 1, stackBytes <= 1 << 30 else { throw .invalid("stackBytes", "must be 1 B … 1 GiB") }
        let text = Page.roundUp(textBytes)
        let data = Page.roundUp(dataBytes)
        let stack = Page.roundUp(stackBytes)
        try checkProcessLimit()
        try ensureBudget(
            Self.processCost + 4 * Self.mappingCost + Self.filCost + command.utf8.count + Self.faultReserve
        )
        defer { recountMappings() }
        if config.addressing == .physical {
            return try spawnPhysical(command: command, text: text, data: data, stack: stack)
        }
        let p = SimProcess(pid: nextPID, command: command)
        killedThisCall = []
        guard let root = try allocateFrame(.pageTable, for: nil) else {
            return SpawnResult(
                pid: nil,
                mappings: [],
                linkedAddress: Layout.linkedAddress,
                loadAddress: 0,
                errno: "ENOMEM"
            )
        }
        nextPID += 1
        p.pml4Frame = root
        p.pml4Slot = tables.create(frame: root)
        p.tableFrames = 1
        for i in 256..<512 { tables.copyEntry(from: (kernelPML4Slot, i), to: (p.pml4Slot, i)) }
        processes[p.pid] = p

        let path = command.hasPrefix("/") ? command : "/usr/bin/" + command
        let file = cache.file(named: path, sizeBytes: text + data)
        let base = Layout.linkedAddress
        p.insert(
            VMA(
                start: base,
                end: base + text,
                protection: [.read, .exec],
                isShared: false,
                kind: .file,
                fileID: file,
                offset: 0,
                path: path
            )
        )
        if data > 0 {
            p.insert(
                VMA(
                    start: base + text,
                    end: base + text + data,
                    protection: [.read, .write],
                    isShared: false,
                    kind: .file,
                    fileID: file,
                    offset: text,
                    path: path
                )
            )
        }
        let heap = base + text + data
        p.insert(
            VMA(
                start: heap,
                end: heap + Layout.heapBytes,
                protection: [.read, .write],
                isShared: false,
                kind: .heap,
                fileID: nil,
                offset: 0,
                path: "[heap]"
            )
        )
        p.insert(
            VMA(
                start: userTop - stack,
                end: userTop,
                protection: [.read, .write],
                isShared: false,
                kind: .stack,
                fileID: nil,
                offset: 0,
                path: "[stack]"
            )
        )
        return SpawnResult(pid: p.pid, mappings: p.vmas.map(mappingInfo), linkedAddress: base, loadAddress: base)
    }

    /// `sim.mmap`: reserves virtual space only (demand paging). `address` is honoured when the range is
    /// free, else a hint. Out of virtual space → `errno: "ENOMEM"` (overcommit: physical size is no limit).
    public func mmap(
        pid: Int,
        length: UInt64,
        protection: Protection,
        shared: Bool = false,
        file: (name: String, sizeBytes: UInt64)? = nil,
        offset: UInt64 = 0,
        address: UInt64? = nil
    ) throws(MMUError) -> MmapResult {
        let p = try process(pid)
        let size = try Checked.length(length)
        if let file {
            guard !file.name.isEmpty else { throw .invalid("file", "name must not be empty") }
            _ = try Checked.fileBytes(file.sizeBytes)
            _ = try Checked.fileOffset(offset, size: size)
        } else {
            guard offset % Page.size == 0 else { throw .invalid("offset", "must be page-aligned") }
        }
        // vm.max_map_count: mmap fails with ENOMEM (mm/mmap.c, do_mmap).
        guard p.vmas.count < limits.maxMappings else { return MmapResult(address: nil, errno: "ENOMEM") }
        try ensureBudget(Self.mappingCost + Self.filCost + (file?.name.utf8.count ?? 0))
        defer { recountMappings() }
        if config.addressing == .physical { return mmapPhysical(p, size: size) }
        // Longer than the address space: ENOMEM (`if (len > TASK_SIZE) return -ENOMEM`).
        guard size <= userTop, let start = findFreeRange(p, size: size, hint: address) else {
            return MmapResult(address: nil, errno: "ENOMEM")
        }
        var vma = VMA(
            start: start,
            end: start + size,
            protection: protection,
            isShared: shared,
            kind: .anon,
            fileID: nil,
            offset: 0,
            path: nil
        )
        if let file {
            vma.fileID = cache.file(named: file.name, sizeBytes: file.sizeBytes)
            vma.kind = .file
            vma.path = file.name
            vma.offset = offset
        } else if shared {
            vma.fileID = cache.file(named: "/dev/zero", sizeBytes: size, isShmem: true)
        }
        p.insert(vma)
        if start + size == (p.coveredFloor ?? mmapBase) { p.coveredFloor = start }
        return MmapResult(address: start)
    }

    /// Finds `size` bytes of free user space: the hint if free, else top-down below `mmap_base`
    /// (`get_unmapped_area`), else bottom-up above the program.
    func findFreeRange(_ p: SimProcess, size: UInt64, hint: UInt64?) -> UInt64? {
        let top = userTop
        if let hint {
            let h = Page.roundDown(hint)
            if h >= Layout.mmapMinAddress, h <= top, size <= top - h, p.isFree(h, h + size) { return h }
        }
        // Gaps between mappings, highest first, below mmapBase; everything above coveredFloor is taken.
        var ceiling = min(p.coveredFloor ?? mmapBase, mmapBase)
        var covered = true
        var i = p.firstIndex(startingAtOrAbove: ceiling)
        while i > 0 {
            i -= 1
            let v = p.vmas[i]
            if v.end <= ceiling {
                if ceiling - v.end >= size { return ceiling - size }
                if v.end < ceiling { covered = false }
            }
            ceiling = min(ceiling, v.start)
            if covered { p.coveredFloor = ceiling }
        }
        if ceiling >= Layout.mmapMinAddress + size { return ceiling - size }
        // Bottom-up above mmap_base (between it and the stack).
        var floor = mmapBase
        for v in p.vmas where v.end > floor {
            if v.start >= floor, v.start - floor >= size { return floor }
            floor = max(floor, v.end)
        }
        if floor <= top, top - floor >= size { return floor }
        return nil
    }

    /// `sim.fork`: the child's pid. Page tables are copied, pages are shared (CoW for private writable).
    public func fork(pid: Int) throws(MMUError) -> Int {
        let p = try process(pid)
        try checkProcessLimit()
        killedThisCall = []
        defer { recountMappings() }
        return try forkProcess(p)
    }

    /// `sim.exit`: frees the process's memory; returns the frames returned to the free list
    /// (its private pages and page tables; shared pages still mapped elsewhere stay).
    public func exit(pid: Int) throws(MMUError) -> Int {
        let p = try process(pid)
        defer { recountMappings() }
        return exitProcess(p)
    }

    /// `sim.munmap`: removes mappings in `[address, address+length)`; returns the frames freed.
    @discardableResult
    public func munmap(pid: Int, address: UInt64, length: UInt64) throws(MMUError) -> Int {
        try unmap(pid: pid, address: address, length: length).freedPages
    }

    /// `sim.munmap` with its errno: a range nothing maps frees nothing (success, as Linux); a split
    /// that would pass `maxMappings` is ENOMEM and changes nothing (mm/mmap.c, do_vmi_align_munmap).
    /// The range must lie in the user address space (physical addressing: in physical memory), as
    /// Linux's `start > TASK_SIZE || len > TASK_SIZE - start` → EINVAL: an `invalidArgument` here.
    public func unmap(pid: Int, address: UInt64, length: UInt64) throws(MMUError) -> MunmapResult {
        let p = try process(pid)
        let start = try Checked.aligned(address)
        let size = try Checked.length(length)
        let end = try Checked.end(start, size)
        let top = config.addressing == .physical ? config.physicalBytes : userTop
        let space =
            (config.addressing == .physical ? "physical memory" : "address space")
            + " (0x\(String(top, radix: 16)))"
        guard start <= top else { throw .invalid("address", "beyond the \(space)") }
        guard end <= top else { throw .invalid("length", "address + length passes the \(space)") }
        if p.vmas.count >= limits.maxMappings, p.vmas.contains(where: { $0.start < start && $0.end > end }) {
            return MunmapResult(freedPages: 0, errno: "ENOMEM")
        }
        // A split mapping, and a 2 MiB page split at each edge (a table each, found maybe by reclaim).
        try ensureBudget(Self.mappingCost + Self.faultReserve)
        defer { recountMappings() }
        if config.addressing == .physical {
            return MunmapResult(freedPages: munmapPhysical(p, address: start, end: end))
        }
        return MunmapResult(freedPages: try unmapRange(p, start: start, end: end))
    }

    func checkProcessLimit() throws(MMUError) {
        guard processes.count < limits.maxProcesses else {
            throw .limit("simProcesses", limit: limits.maxProcesses, requested: processes.count + 1)
        }
    }

    // MARK: - Queries

    public func processStats(pid: Int) throws(MMUError) -> ProcessStats {
        let p = try process(pid)
        return stats(p)
    }

    public func allProcessStats() throws(MMUError) -> [ProcessStats] {
        try checkAlive()
        return pids.compactMap { processes[$0].map(stats) }
    }

    func stats(_ p: SimProcess) -> ProcessStats {
        ProcessStats(
            pid: p.pid,
            command: p.command,
            vsz: p.vsz,
            rss: UInt64(p.rssPages) * Page.size,
            minflt: p.minflt,
            majflt: p.majflt,
            cowFaults: p.cowFaults,
            swap: UInt64(p.swapPages) * Page.size
        )
    }

    /// Refcount and owner of a frame.
    public func frame(_ pfn: Int) throws(MMUError) -> FrameInfo {
        try checkAlive()
        guard pfn >= 0, pfn < memory.frameCount else { throw .invalid("pfn", "beyond physical memory") }
        return FrameInfo(pfn: pfn, owner: memory.ownerOf(pfn), refcount: memory.refcountOf(pfn))
    }

    /// Frames in use per owner (page tables, anonymous, …).
    public func frameCount(owner: FrameOwner) -> Int { memory.count(owner) }

    /// TLB counters since creation.
    public var tlbHits: UInt64 { tlb.hits }
    public var tlbMisses: UInt64 { tlb.misses }

    /// `sim.list`'s one line.
    public func summary() -> MachineSummary {
        let frames = config.addressing == .physical ? physical.freeFrames : memory.freeCount
        let free = UInt64(frames) * Page.size
        return MachineSummary(
            processes: processes.count,
            usedBytes: config.physicalBytes - free,
            freeBytes: free,
            minorFaults: minorFaults,
            majorFaults: pgmajfault,
            cowFaults: cowFaults,
            oomKills: oomKills,
            isPanicked: isPanicked
        )
    }

    /// The file's bytes as a reader would see them: from the page cache where cached, else from disk.
    public func fileContents(name: String, offset: UInt64, length: Int) throws(MMUError) -> [UInt8] {
        try checkAlive()
        guard let id = cache.fileByName[name] else { throw .invalid("name", "no such file") }
        guard length >= 0, length <= 1 << 20 else { throw .invalid("length", "must be 0 … 1 MiB") }
        var out: [UInt8] = []
        var pos = offset
        let end = min(try Checked.end(offset, UInt64(length)), cache.files[id].sizeBytes)
        while pos < end {
            let index = Int(pos >> Page.shift)
            let inPage = Int(pos & (Page.size - 1))
            let n = Int(min(end - pos, Page.size - UInt64(inPage)))
            let page: [UInt8]
            if let pfn = cache.files[id].cached[index] {
                page = memory.bytes(pfn)
            } else {
                page = cache.files[id].disk[index] ?? [UInt8](repeating: 0, count: Int(Page.size))
            }
            out += page[inPage..<(inPage + n)]
            pos += UInt64(n)
        }
        return out
    }

    /// Writes a file's bytes (like `write(2)` on it, outside any mapping): into the cached page when
    /// there is one (making it dirty), else straight to disk. Creates the file if needed.
    public func writeFile(name: String, offset: UInt64, bytes: [UInt8]) throws(MMUError) {
        try checkAlive()
        guard !name.isEmpty else { throw .invalid("name", "must not be empty") }
        guard bytes.count <= 1 << 20 else { throw .invalid("bytes", "at most 1 MiB") }
        let fileEnd = try Checked.fileBytes(try Checked.end(offset, UInt64(bytes.count), "offset"), "offset")
        try ensureBudget(Self.filCost + name.utf8.count + (bytes.count / Int(Page.size) + 2) * Self.pageCost)
        let id = cache.file(named: name, sizeBytes: fileEnd)
        var pos = offset
        var i = 0
        while i < bytes.count {
            let index = Int(pos >> Page.shift)
            let inPage = Int(pos & (Page.size - 1))
            let n = min(bytes.count - i, Int(Page.size) - inPage)
            if let pfn = cache.files[id].cached[index] {
                var page = memory.bytes(pfn)
                page.replaceSubrange(inPage..<(inPage + n), with: bytes[i..<(i + n)])
                memory.contents[pfn] = page
                cache.markDirty(pfn: pfn)
            } else {
                var page = cache.files[id].disk[index] ?? [UInt8](repeating: 0, count: Int(Page.size))
                page.replaceSubrange(inPage..<(inPage + n), with: bytes[i..<(i + n)])
                cache.setDisk(id, index, page)
            }
            i += n
            pos += UInt64(n)
        }
    }
}
