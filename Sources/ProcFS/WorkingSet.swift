#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What a working-set measurement counts: the pages the process touched (accessed bits and
/// `PG_referenced`, smaps' `Referenced:`) or wrote (pagemap's soft-dirty bit 55) since its bits
/// were cleared through /proc/PID/clear_refs (fs/proc/task_mmu.c, `clear_refs_write`).
public enum WorkingSetKind: String, Sendable, CaseIterable {
    case referenced, written

    /// What is written to clear_refs: 1 clears the referenced and accessed bits of every page,
    /// 4 the soft-dirty bits (`enum clear_refs_types`).
    public var clearRefsValue: UInt8 {
        switch self {
        case .referenced: return UInt8(ascii: "1")
        case .written: return UInt8(ascii: "4")
        }
    }
}

/// One mapping's part of a working-set sample.
public struct WorkingSetMapping: Sendable, Equatable {
    public var start: UInt64
    public var end: UInt64
    public var path: String?
    public var kind: MappingKind
    public var rss: Int
    /// Bytes referenced (or written) in the interval.
    public var touched: Int

    public init(start: UInt64, end: UInt64, path: String?, kind: MappingKind, rss: Int, touched: Int) {
        (self.start, self.end, self.path, self.kind, self.rss, self.touched) = (start, end, path, kind, rss, touched)
    }
}

/// The figures of one working-set sample, in bytes: what the process holds (rss, pss) and what it
/// touched in the interval, split by mapping kind (file-backed, everything else anonymous).
public struct WorkingSetFigures: Sendable, Equatable {
    public var rss = 0
    public var pss = 0
    public var touched = 0
    public var anon = 0
    public var file = 0
    /// Each mapping, when asked for.
    public var mappings: [WorkingSetMapping]?
    /// Mappings read (none: the process has no memory any more, a zombie).
    public var mappingCount = 0

    public init(perMapping: Bool) { mappings = perMapping ? [] : nil }

    /// Adds a mapping with its smaps figures and the bytes it touched.
    public mutating func add(_ mapping: Mapping, touched bytes: Int) {
        let detail = mapping.detail ?? SmapsDetail()
        mappingCount += 1
        rss += detail.rss
        pss += detail.pss
        touched += bytes
        if mapping.kind == .file { file += bytes } else { anon += bytes }
        mappings?.append(
            WorkingSetMapping(
                start: mapping.start,
                end: mapping.end,
                path: mapping.path,
                kind: mapping.kind,
                rss: detail.rss,
                touched: bytes
            )
        )
    }

    /// Pages written since the soft-dirty bits were cleared, among pagemap `entries`: soft-dirty
    /// and present or swapped (a never-touched page reads as soft-dirty-free and absent).
    public static func writtenPages(_ entries: UnsafeBufferPointer<UInt64>) -> Int {
        var pages = 0
        for raw in entries {
            let entry = PagemapEntry(rawValue: raw)
            if entry.contains(.softDirty), entry.isPresent || entry.isSwapped { pages += 1 }
        }
        return pages
    }
}

extension ProcessFiles {
    /// Clears the process's referenced (or soft-dirty) bits by writing /proc/PID/clear_refs, if the
    /// client could write that file itself.
    ///
    /// The kernel makes clear_refs (mode 0200) owned by the process's effective uid while it is
    /// dumpable and by root when it is not (`task_dump_owner`, fs/proc/base.c), and checks the
    /// right at open. memd (root) can open any, so it opens through the /proc/PID descriptor, reads
    /// the owner of *that descriptor* (fstat: the owner computed when it was opened), and writes
    /// through it only if the client is root or that owner: no look-up apart from the write.
    public mutating func clearRefs(_ kind: WorkingSetKind) throws(ProcError) {
        let name = "clear_refs"
        let fd = openat(directory, name, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ProcFile.error(path(name), errno) }
        defer { Glibc.close(fd) }
        var info = Glibc.stat()
        guard fstat(fd, &info) == 0 else { throw ProcFile.error(path(name), errno) }
        guard client.isRoot || info.st_uid == client.uid else { throw .permissionDenied(path: path(name)) }
        var value = kind.clearRefsValue
        while Glibc.write(fd, &value, 1) != 1 {
            if errno != EINTR { throw ProcFile.error(path(name), errno) }
        }
    }

    /// One sample after ``clearRefs(_:)``: smaps read once (rss, pss, `Referenced:`), and for
    /// `written` the mapped ranges of pagemap (soft-dirty). Verified like every read.
    public mutating func workingSet(_ kind: WorkingSetKind, perMapping: Bool) throws(ProcError) -> WorkingSetFigures {
        var figures = WorkingSetFigures(perMapping: perMapping)
        switch kind {
        case .referenced:
            try forEachMapping(detail: true) { mapping in
                figures.add(mapping, touched: mapping.detail?.referenced ?? 0)
            }
        case .written:
            let pagemap = try self.pagemap()
            let mappings = try smaps()
            var block = [UInt64](repeating: 0, count: PagemapReader.maxBlock)
            let shift = UInt64(pageSize.trailingZeroBitCount)
            for mapping in mappings {
                var page = mapping.start >> shift
                let end = (mapping.end + UInt64(pageSize) - 1) >> shift
                var written = 0
                while page < end {
                    let want = Int(min(end - page, UInt64(block.count)))
                    let got = try pagemap.read(firstPage: page, count: want, into: &block)
                    written += block.withUnsafeBufferPointer {
                        WorkingSetFigures.writtenPages(UnsafeBufferPointer(rebasing: $0[0..<got]))
                    }
                    if got < want { break }
                    page += UInt64(want)
                }
                figures.add(mapping, touched: written * pageSize)
            }
            try verify()
        }
        return figures
    }
}

/// Whether this kernel tracks soft-dirty bits (`CONFIG_MEM_SOFT_DIRTY`).
public enum SoftDirty {
    /// Asks the kernel once, on the caller's own process: clears its soft-dirty bits
    /// (clear_refs ← 4), writes a fresh page, and reads that page's pagemap entry. Without the
    /// option the write to clear_refs still succeeds and bit 55 is never set.
    public static func isTracked(root: String = "/proc") -> Bool {
        let size = pageSize
        guard let page = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            page != MAP_FAILED
        else { return false }
        defer { munmap(page, size) }
        page.storeBytes(of: 1, as: UInt8.self)
        let clear = open(root + "/self/clear_refs", O_WRONLY | O_CLOEXEC)
        guard clear >= 0 else { return false }
        var value = WorkingSetKind.written.clearRefsValue
        let cleared = Glibc.write(clear, &value, 1) == 1
        close(clear)
        guard cleared else { return false }
        // Written after the clear: soft-dirty again if the kernel tracks it.
        page.storeBytes(of: 2, as: UInt8.self)
        guard let reader = try? PagemapReader(pid: getpid(), root: root) else { return false }
        var entry: [UInt64] = [0]
        let index = UInt64(UInt(bitPattern: page)) >> UInt64(size.trailingZeroBitCount)
        guard (try? reader.read(firstPage: index, count: 1, into: &entry)) == 1 else { return false }
        return PagemapEntry(rawValue: entry[0]).contains(.softDirty)
    }
}
