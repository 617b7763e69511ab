#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One 8-byte entry of /proc/PID/pagemap (Documentation/admin-guide/mm/pagemap.rst).
public struct PagemapEntry: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bit 63: the page is present in RAM.
    public static let present = PagemapEntry(rawValue: 1 << 63)
    /// Bit 62: the page is in swap.
    public static let swapped = PagemapEntry(rawValue: 1 << 62)
    /// Bit 61: a file page or shared anonymous page.
    public static let fileOrSharedAnon = PagemapEntry(rawValue: 1 << 61)
    /// Bit 56: mapped exclusively (by one process).
    public static let exclusive = PagemapEntry(rawValue: 1 << 56)
    /// Bit 55: soft-dirty (written since the soft-dirty bits were cleared).
    public static let softDirty = PagemapEntry(rawValue: 1 << 55)

    /// Bits 0–54: the page frame number when present (zero unless the reader has CAP_SYS_ADMIN);
    /// when swapped, bits 0–4 are the swap type and 5–54 the offset.
    public static let pfnMask: UInt64 = (1 << 55) - 1

    public var isPresent: Bool { contains(.present) }
    public var isSwapped: Bool { contains(.swapped) }
    /// The frame number, nil when not present or hidden (0).
    public var pfn: UInt64? {
        guard isPresent else { return nil }
        let pfn = rawValue & Self.pfnMask
        return pfn == 0 ? nil : pfn
    }

    /// The entries of a pagemap read: little-endian 8-byte words (a trailing partial word is ignored).
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> [PagemapEntry] {
        var out: [PagemapEntry] = []
        out.reserveCapacity(bytes.count / 8)
        var i = 0
        while i + 8 <= bytes.count {
            var v: UInt64 = 0
            for b in 0..<8 { v |= UInt64(bytes[i + b]) << (8 * UInt64(b)) }
            out.append(PagemapEntry(rawValue: v))
            i += 8
        }
        return out
    }

    public static func parse(_ bytes: [UInt8]) -> [PagemapEntry] {
        bytes.withUnsafeBytes { parse($0) }
    }

    /// The set bits by name, in the order above.
    public var names: [String] {
        var out: [String] = []
        if contains(.present) { out.append("present") }
        if contains(.swapped) { out.append("swapped") }
        if contains(.fileOrSharedAnon) { out.append("fileOrSharedAnon") }
        if contains(.exclusive) { out.append("exclusive") }
        if contains(.softDirty) { out.append("softDirty") }
        return out
    }
}

/// Reads /proc/PID/pagemap with pread, 512 entries (one 4 KiB read, 2 MiB of address space) at a
/// time, keeping the last block: sequential lookups cost one syscall per 512 pages.
public struct PagemapReader: ~Copyable {
    public let path: String
    let fd: Int32
    var blockIndex: UInt64 = .max
    var block = [UInt64](repeating: 0, count: 512)
    var blockCount = 0

    public init(pid: Int32, root: String = "/proc") throws(ProcError) {
        path = "\(root)/\(pid)/pagemap"
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ProcFile.error(path, errno) }
    }

    deinit { close(fd) }

    /// The entry of the page holding virtual address `address` (empty beyond what the kernel reports).
    public mutating func entry(address: UInt64) throws(ProcError) -> PagemapEntry {
        let vpn = address >> 12
        let index = vpn >> 9
        if index != blockIndex { try load(index) }
        let slot = Int(vpn & 511)
        return slot < blockCount ? PagemapEntry(rawValue: block[slot]) : PagemapEntry(rawValue: 0)
    }

    /// The most entries ``read(firstPage:count:into:)`` is asked for by memd at once (512 KiB: 256 MiB
    /// of address space).
    public static let maxBlock = 65_536

    /// Reads the entries of pages `firstPage ..< firstPage + count` into `entries` with one pread (more
    /// only if the kernel hands back less); returns how many it had (fewer past the end of the user
    /// address space).
    public func read(firstPage: UInt64, count: Int, into entries: inout [UInt64]) throws(ProcError) -> Int {
        precondition(count >= 0 && count <= entries.count)
        // The file offset is page × 8; offsets above Int64.max (kernel half) cannot be read.
        guard firstPage <= UInt64(Int64.max) / 8 - UInt64(count) else { return 0 }
        let offset = off_t(firstPage * 8)
        var done = 0
        while done < count * 8 {
            let got = entries.withUnsafeMutableBytes { bytes in
                pread(fd, bytes.baseAddress! + done, count * 8 - done, offset + off_t(done))
            }
            if got < 0 {
                let code = errno
                if code == EINTR { continue }
                // EINVAL/EIO past the end of the user address space: nothing mapped there.
                if code == EINVAL || code == EIO { break }
                throw ProcFile.error(path, code)
            }
            if got == 0 { break }
            done += got
        }
        return done / 8
    }

    mutating func load(_ index: UInt64) throws(ProcError) {
        blockIndex = .max
        // The file offset is vpn * 8; offsets above Int64.max (kernel half) cannot be read.
        guard index <= UInt64(Int64.max) / 4096 else {
            blockCount = 0
            blockIndex = index
            return
        }
        let offset = off_t(index * 4096)
        var got = 0
        while true {
            got = block.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 4096, offset) }
            if got < 0, errno == EINTR { continue }
            break
        }
        if got < 0 {
            let code = errno
            // EINVAL/EIO past the end of the user address space: nothing mapped there.
            if code == EINVAL || code == EIO {
                got = 0
            } else {
                throw ProcFile.error(path, code)
            }
        }
        blockCount = got / 8
        blockIndex = index
    }
}
