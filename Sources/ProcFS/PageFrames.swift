#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// /proc/kpageflags and /proc/kpagecount, read in runs of consecutive frames: one pread of each
/// file per run (fs/proc/page.c: both are arrays of 8-byte words indexed by frame number).
///
/// Both files are root's alone (mode 0400, and CAP_SYS_ADMIN for kpageflags' content); opening
/// them fails with `.permissionDenied(path: "/proc/kpageflags")` for anyone else.
public final class FrameReader {
    /// The longest run read at once, in frames (512 KiB of each file).
    public static let maxRun = 65_536
    let flagsFD: Int32
    let countFD: Int32
    let flagsPath: String
    let countPath: String
    public private(set) var flags: [UInt64]
    public private(set) var counts: [UInt64]

    public init(root: String = "/proc") throws(ProcError) {
        flagsPath = root + "/kpageflags"
        countPath = root + "/kpagecount"
        flagsFD = open(flagsPath, O_RDONLY | O_CLOEXEC)
        guard flagsFD >= 0 else { throw ProcFile.error(flagsPath, errno) }
        countFD = open(countPath, O_RDONLY | O_CLOEXEC)
        guard countFD >= 0 else {
            let code = errno
            close(flagsFD)
            throw ProcFile.error(countPath, code)
        }
        flags = [UInt64](repeating: 0, count: Self.maxRun)
        counts = [UInt64](repeating: 0, count: Self.maxRun)
    }

    deinit {
        close(flagsFD)
        close(countFD)
    }

    /// Reads the flags of frames `first ..< first + count` (count ≤ ``maxRun``) into `flags`;
    /// returns how many the kernel had (fewer past the last frame).
    public func readFlags(first: UInt64, count: Int) throws(ProcError) -> Int {
        precondition(count > 0 && count <= Self.maxRun)
        // Offsets are frame × 8: a frame past 2^59 is past any file the kernel has.
        guard first < 1 << 59 else { return 0 }
        return try Self.pread(flagsFD, into: &flags, count: count, offset: off_t(first * 8), path: flagsPath)
    }

    /// Reads the map counts of frames `first ..< first + count` into `counts`, as ``readFlags(first:count:)``.
    public func readCounts(first: UInt64, count: Int) throws(ProcError) -> Int {
        precondition(count > 0 && count <= Self.maxRun)
        guard first < 1 << 59 else { return 0 }
        return try Self.pread(countFD, into: &counts, count: count, offset: off_t(first * 8), path: countPath)
    }

    static func pread(
        _ fd: Int32,
        into words: inout [UInt64],
        count: Int,
        offset: off_t,
        path: String
    ) throws(ProcError) -> Int {
        var done = 0
        while done < count * 8 {
            let got = words.withUnsafeMutableBytes { bytes in
                Glibc.pread(fd, bytes.baseAddress! + done, count * 8 - done, offset + off_t(done))
            }
            if got < 0 {
                if errno == EINTR { continue }
                throw ProcFile.error(path, errno)
            }
            if got == 0 { break }
            done += got
        }
        return done / 8
    }
}

/// Runs of frames to read for a set of frame numbers: consecutive ones (and ones a few frames
/// apart: reading a short gap costs less than another pread) become one run.
public enum FrameRuns {
    /// Frames at most this many frames apart share a run. The kernel's work is per frame read
    /// (`stable_page_flags`, `page_mapcount`, a `put_user` each, fs/proc/page.c), ~0.16 µs of CPU
    /// here against ~0.4 µs for a pair of preads: a gap of 2 frames is where they break even.
    /// (A 1 GiB buffer, 265,691 frames in 152,624 runs of consecutive ones: gap 64 read 2.3 million
    /// frames for 490 ms of CPU, gap 0 to 4 about 160 ms.)
    public static let maxGap: UInt64 = 2

    /// The runs covering `sorted` (ascending, duplicates allowed), as (first frame, frame count,
    /// index in `sorted` of the run's last frame + 1). Each value is a frame shifted left by `shift`
    /// (the bits below it carry something else).
    public static func plan(
        _ sorted: UnsafeBufferPointer<UInt64>,
        shift: UInt64 = 0,
        maxRun: Int = FrameReader.maxRun
    ) -> [(first: UInt64, count: Int, endIndex: Int)] {
        var runs: [(first: UInt64, count: Int, endIndex: Int)] = []
        guard let head = sorted.first.map({ $0 >> shift }) else { return runs }
        var first = head
        var end = head + 1
        for (index, value) in sorted.enumerated().dropFirst() {
            let frame = value >> shift
            if frame < end { continue }
            if frame - end <= maxGap, frame - first < UInt64(maxRun) {
                end = frame + 1
                continue
            }
            runs.append((first, Int(end - first), index))
            first = frame
            end = frame + 1
        }
        runs.append((first, Int(end - first), sorted.count))
        return runs
    }
}

/// What a set of pages is to the kernel: how many are present, swapped, shared (a frame mapped
/// more than once, kpagecount > 1), the pages of each flag and, for a process, of each set of
/// flags — the flags as page-types shows them by default (``KernelPageFlags/wellKnown``).
public struct PageFlagsTally: Sendable, Equatable {
    public var present = 0
    public var swapped = 0
    public var shared = 0
    /// Pages per flag bit 0…26 (``PageFlagName/wellKnown``).
    public var perFlag = [Int](repeating: 0, count: PageFlagName.wellKnown.count)
    /// Pages per set of flags (raw value of the well-known flags); kept when `keepsSets`.
    public var sets: [UInt64: Int] = [:]
    public let keepsSets: Bool

    public init(keepsSets: Bool) { self.keepsSets = keepsSets }

    /// Counts one present page whose frame has `flags` and is mapped `mapCount` times.
    public mutating func add(flags: UInt64, mapCount: UInt64) {
        present += 1
        if mapCount > 1 { shared += 1 }
        let known = KernelPageFlags(rawValue: flags).wellKnown.rawValue
        var bits = known & ((1 << UInt64(perFlag.count)) - 1)
        while bits != 0 {
            let bit = bits.trailingZeroBitCount
            perFlag[bit] += 1
            bits &= bits - 1
        }
        if keepsSets { sets[known, default: 0] += 1 }
    }

    /// The sets, largest first (ties in bit order, so the order is the same every time).
    public var sortedSets: [(flags: KernelPageFlags, pages: Int)] {
        sets.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { (KernelPageFlags(rawValue: $0.key), $0.value) }
    }
}

/// The pages of a process's mappings, counted by what they are to the kernel.
public struct PageFlagsScan: Sendable {
    public var total = PageFlagsTally(keepsSets: true)
    /// With per-mapping figures: each mapping that overlaps the range, its pages in the range.
    public var mappings: [(mapping: Mapping, tally: PageFlagsTally)] = []

    public init() {}
}

extension ProcessFiles {
    /// Counts the present pages of the process's mappings in `range` (all when nil) by their frames'
    /// flags and map counts: pagemap in blocks, each block's frames sorted and read in runs.
    /// No frame number leaves this function. `isCancelled` is asked between blocks.
    public mutating func scanPageFlags(
        range: Range<UInt64>?,
        perMapping: Bool,
        frames: FrameReader,
        isCancelled: () -> Bool = { false }
    ) throws(ProcError) -> PageFlagsScan {
        let mappings = try maps()
        let pagemap = try self.pagemap()
        var scan = PageFlagsScan()
        var block = [UInt64](repeating: 0, count: PagemapReader.maxBlock)
        var present: [UInt64] = []
        present.reserveCapacity(PagemapReader.maxBlock)
        let shift = UInt64(pageSize.trailingZeroBitCount)
        for mapping in mappings {
            let low = max(mapping.start, range?.lowerBound ?? 0)
            let high = min(mapping.end, range?.upperBound ?? .max)
            guard low < high else { continue }
            var tally = PageFlagsTally(keepsSets: false)
            var page = low >> shift
            let endPage = (high + UInt64(pageSize) - 1) >> shift
            while page < endPage {
                if isCancelled() { throw .io(path: path("pagemap"), errno: ECANCELED) }
                let want = Int(min(endPage - page, UInt64(block.count)))
                let got = try pagemap.read(firstPage: page, count: want, into: &block)
                present.removeAll(keepingCapacity: true)
                for index in 0..<got {
                    let entry = PagemapEntry(rawValue: block[index])
                    if entry.isSwapped {
                        scan.total.swapped += 1
                        tally.swapped += 1
                    } else if let frame = entry.pfn {
                        // The frame, and below it whether it may be mapped more than once.
                        present.append(frame << 1 | (entry.contains(.exclusive) ? 0 : 1))
                    }
                }
                try Self.count(&present, frames: frames, into: &scan.total, and: &tally, perMapping: perMapping)
                if got < want { break }
                page += UInt64(want)
            }
            if perMapping { scan.mappings.append((mapping, tally)) }
        }
        try verify()
        return scan
    }

    /// Counts `present` (each a frame shifted left by one, the low bit set unless pagemap said the
    /// page is mapped exclusively). A run's map counts are read only when one of its pages may be
    /// mapped more than once: pagemap's bit 56 and kpagecount are both `page_mapcount(page) == 1`
    /// of the same page (fs/proc/task_mmu.c, fs/proc/page.c) — except for a compound page, whose
    /// pagemap bit is its head's, so a run with a compound page always reads them. That spares a
    /// private process most kpagecount reads, half of the kernel's work per frame.
    static func count(
        _ present: inout [UInt64],
        frames: FrameReader,
        into total: inout PageFlagsTally,
        and mapping: inout PageFlagsTally,
        perMapping: Bool
    ) throws(ProcError) {
        present.sort()
        let runs = present.withUnsafeBufferPointer { FrameRuns.plan($0, shift: 1) }
        let compound = KernelPageFlags.compoundHead.rawValue | KernelPageFlags.compoundTail.rawValue
        var index = 0
        for run in runs {
            let got = try frames.readFlags(first: run.first, count: run.count)
            var counted = 0
            for value in present[index..<run.endIndex] {
                let offset = Int((value >> 1) - run.first)
                if value & 1 != 0 || (offset < got && frames.flags[offset] & compound != 0) {
                    counted = try frames.readCounts(first: run.first, count: run.count)
                    break
                }
            }
            while index < run.endIndex {
                let value = present[index]
                let offset = Int((value >> 1) - run.first)
                index += 1
                // A frame the kernel no longer has (memory hot-removed) counts as present, flagless.
                let flags = offset < got ? frames.flags[offset] : 0
                let mapCount: UInt64 = offset < counted ? frames.counts[offset] : (value & 1 == 0 ? 1 : 0)
                total.add(flags: flags, mapCount: mapCount)
                if perMapping { mapping.add(flags: flags, mapCount: mapCount) }
            }
        }
    }
}
