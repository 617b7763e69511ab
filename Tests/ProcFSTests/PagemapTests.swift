import Glibc
import Testing

@testable import ProcFS

struct PagemapTests {
    func bytes(_ words: [UInt64]) -> [UInt8] {
        words.flatMap { w in (0..<8).map { UInt8(truncatingIfNeeded: w >> (8 * UInt64($0))) } }
    }

    @Test func parsesTheBits() {
        let present: UInt64 = 1 << 63 | 1 << 56 | 0x12345
        let hidden: UInt64 = 1 << 63 | 1 << 61  // present, file page, PFN zeroed (non-root reader)
        let swapped: UInt64 = 1 << 62 | 1 << 55 | 0x3f
        let entries = PagemapEntry.parse(bytes([present, hidden, swapped, 0]) + [1, 2, 3])
        #expect(entries.count == 4)  // the trailing partial word is ignored
        #expect(entries[0].isPresent && entries[0].contains(.exclusive) && entries[0].pfn == 0x12345)
        #expect(!entries[0].contains(.softDirty) && !entries[0].isSwapped)
        #expect(entries[0].names == ["present", "exclusive"])
        #expect(entries[1].isPresent && entries[1].pfn == nil && entries[1].contains(.fileOrSharedAnon))
        #expect(
            !entries[2].isPresent && entries[2].isSwapped && entries[2].contains(.softDirty) && entries[2].pfn == nil
        )
        #expect(entries[3].rawValue == 0 && entries[3].names.isEmpty)
        #expect(PagemapEntry.pfnMask == (1 << 55) - 1)
    }

    @Test func readsThisProcess() throws {
        let size = 8 * 4096
        let raw = try #require(mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        defer { munmap(raw, size) }
        let base = UInt64(UInt(bitPattern: raw))
        let bytes = raw.assumingMemoryBound(to: UInt8.self)
        bytes[0] = 1
        bytes[3 * 4096] = 1
        var reader = try PagemapReader(pid: getpid())
        for page in 0..<8 {
            let e = try reader.entry(address: base + UInt64(page) * 4096 + 17)
            #expect(e.isPresent == (page == 0 || page == 3), "page \(page)")
        }
        #expect(throws: ProcError.self) { _ = try PagemapReader(pid: 999_999_999) }
    }
}
