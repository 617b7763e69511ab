/// `addressing: "physical"`: no MMU. Addresses are physical; each allocation is a contiguous run,
/// first fit. Shows the seed's three problems with direct physical allocation: fragmentation failures
/// while enough memory is free in total, processes reading and writing each other's memory
/// unhindered, and programs unable to both run at the address they were linked for.
extension Machine {
    func bootPhysical() {
        physical = ContiguousAllocator(frameCount: memory.frameCount)
        _ = physical.allocate(Int(Layout.kernelTextBytes >> Page.shift), pid: 0)
    }

    func spawnPhysical(command: String, text: UInt64, data: UInt64, stack: UInt64) throws(MMUError) -> SpawnResult {
        let image = text + data + Layout.heapBytes + stack
        let frames = Int(image >> Page.shift)
        let pid = nextPID
        let linked = Layout.linkedAddress
        var problem: String?
        var start: Int
        if physical.allocate(at: Int(linked >> Page.shift), frames, pid: pid) {
            start = Int(linked >> Page.shift)
        } else {
            let holder =
                physical.owner(of: Int(linked >> Page.shift)).map { $0 == 0 ? "the kernel" : "pid \($0)" }
                ?? "another allocation"
            guard let s = physical.allocate(frames, pid: pid) else {
                return SpawnResult(
                    pid: nil,
                    mappings: [],
                    linkedAddress: linked,
                    loadAddress: 0,
                    errno: "ENOMEM",
                    problem:
                        "no contiguous run of \(image) bytes (largest free run \(UInt64(physical.largestFreeRun) << Page.shift) bytes)"
                )
            }
            start = s
            problem =
                "linked to run at 0x\(String(linked, radix: 16)), which \(holder) occupies; loaded at "
                + "0x\(String(UInt64(s) << Page.shift, radix: 16)) its absolute addresses point into the wrong memory"
        }
        nextPID += 1
        let p = SimProcess(pid: pid, command: command)
        let base = UInt64(start) << Page.shift
        p.loadAddress = base
        let path = command.hasPrefix("/") ? command : "/usr/bin/" + command
        var at = base
        p.insert(
            VMA(
                start: at,
                end: at + text,
                protection: [.read, .exec],
                isShared: false,
                kind: .file,
                fileID: nil,
                offset: 0,
                path: path
            )
        )
        at += text
        if data > 0 {
            p.insert(
                VMA(
                    start: at,
                    end: at + data,
                    protection: [.read, .write],
                    isShared: false,
                    kind: .file,
                    fileID: nil,
                    offset: text,
                    path: path
                )
            )
            at += data
        }
        p.insert(
            VMA(
                start: at,
                end: at + Layout.heapBytes,
                protection: [.read, .write],
                isShared: false,
                kind: .heap,
                fileID: nil,
                offset: 0,
                path: "[heap]"
            )
        )
        at += Layout.heapBytes
        p.insert(
            VMA(
                start: at,
                end: at + stack,
                protection: [.read, .write],
                isShared: false,
                kind: .stack,
                fileID: nil,
                offset: 0,
                path: "[stack]"
            )
        )
        p.rssAnon = frames
        processes[pid] = p
        return SpawnResult(
            pid: pid,
            mappings: p.vmas.map(mappingInfo),
            linkedAddress: linked,
            loadAddress: base,
            problem: problem
        )
    }

    func mmapPhysical(_ p: SimProcess, size: UInt64) -> MmapResult {
        let frames = Int(size >> Page.shift)
        guard let start = physical.allocate(frames, pid: p.pid) else {
            return MmapResult(
                address: nil,
                errno: "ENOMEM",
                largestFreeRun: UInt64(physical.largestFreeRun) << Page.shift,
                freeBytes: UInt64(physical.freeFrames) << Page.shift
            )
        }
        let a = UInt64(start) << Page.shift
        p.insert(
            VMA(
                start: a,
                end: a + size,
                protection: [.read, .write],
                isShared: false,
                kind: .anon,
                fileID: nil,
                offset: 0,
                path: nil
            )
        )
        p.rssAnon += frames
        return MmapResult(address: a)
    }

    /// munmap without an MMU: frees the parts of `p`'s own runs inside `[address, end)` (checked to
    /// lie in physical memory); the bytes of another process's frames there are not touched.
    func munmapPhysical(_ p: SimProcess, address: UInt64, end: UInt64) -> Int {
        let runs = physical.release(pid: p.pid, from: Int(address >> Page.shift), to: Int(end >> Page.shift))
        var kept: [VMA] = []
        for v in p.vmas {
            guard v.start < end && address < v.end else {
                kept.append(v)
                continue
            }
            if v.start < address {
                var l = v
                l.end = address
                kept.append(l)
            }
            if v.end > end {
                var r = v
                r.offset += end - v.start
                r.start = end
                kept.append(r)
            }
        }
        p.vmas = kept
        var freed = 0
        for run in runs {
            for f in run.start..<run.end { memory.contents[f] = nil }
            freed += run.count
        }
        p.rssAnon -= freed
        return freed
    }

    func exitPhysical(_ p: SimProcess) -> Int {
        for a in physical.allocations where a.pid == p.pid {
            for f in a.run.start..<a.run.end { memory.contents[f] = nil }
        }
        let freed = physical.release(pid: p.pid, from: 0, to: physical.frameCount).reduce(0) { $0 + $1.count }
        p.vmas = []
        p.rssAnon = 0
        p.isAlive = false
        processes[p.pid] = nil
        return freed
    }

    func forkPhysical(_ p: SimProcess) throws(MMUError) -> Int {
        throw .invalid(
            "pid",
            "fork needs an MMU: without one the child cannot have the parent's addresses (nommu Linux offers only vfork)"
        )
    }

    /// Any address inside physical memory is accessible to every process: nothing checks ownership.
    func physicalAccess(_ address: UInt64, _ length: Int) -> UInt64? {
        address < config.physicalBytes && UInt64(length) <= config.physicalBytes - address ? address : nil
    }

    func translatePhysical(_ p: SimProcess, _ t: Translation) -> Translation {
        var t = t
        guard physicalAccess(t.address, 1) != nil else {
            t.outcome = .segv
            t.segv = SegvInfo(address: t.address, reason: "beyond physical memory (bus error)")
            return t
        }
        t.isPresent = true
        t.pfn = t.address >> Page.shift
        t.physicalAddress = t.address
        t.pageSize = Page.size
        t.physicalOwner = physical.owner(of: Int(t.address >> Page.shift))
        return t
    }

    /// Physical mode: the largest contiguous free run and total free bytes.
    public var physicalFreeSpace: (largestFreeRun: UInt64, freeBytes: UInt64) {
        (UInt64(physical.largestFreeRun) << Page.shift, UInt64(physical.freeFrames) << Page.shift)
    }
}
