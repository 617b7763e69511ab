import Testing

@testable import MMU

struct AddressTests {
    @Test(
        arguments: [
            (UInt64(0x7f00_0000_0000) as UInt64, PageIndices(pml4: 254, pdpt: 0, pd: 0, pt: 0, offset: 0)),
            (0x7fff_f1bf_f123, PageIndices(pml4: 255, pdpt: 511, pd: 397, pt: 511, offset: 0x123)),
            (0xffff_8880_0000_0000, PageIndices(pml4: 273, pdpt: 0, pd: 0, pt: 0, offset: 0)),
            (0xffff_ffff_8100_0000, PageIndices(pml4: 511, pdpt: 510, pd: 8, pt: 0, offset: 0)),
            (0x40_0abc, PageIndices(pml4: 0, pdpt: 0, pd: 2, pt: 0, offset: 0xabc)),
        ] as [(UInt64, PageIndices)]
    )
    func indicesSplitNineBitsPerLevel(address: UInt64, expected: PageIndices) {
        #expect(PageIndices(address: address) == expected)
    }

    @Test(
        arguments: [
            (UInt64(0x0000_7fff_ffff_ffff), true), (0xffff_8000_0000_0000, true), (0x0000_8000_0000_0000, false),
            (0xfff0_0000_0000_0000, false), (0, true),
        ] as [(UInt64, Bool)]
    )
    func canonicalMeansBits63To47Equal(address: UInt64, canonical: Bool) {
        #expect(isCanonical(address) == canonical)
    }

    @Test func entryPacksFrameAndFlags() {
        let e = PageTableEntry(pfn: 0x12345, flags: [.present, .writable, .user, .noExecute, .cow])
        #expect(e.rawValue == 0x8000_0000_1234_5207)
        #expect(e.pfn == 0x12345)
        #expect(e.flags.names == ["present", "writable", "user", "cow", "noExecute"])
        #expect(e.isPresent)
    }

    @Test(arguments: ["rw-", "r--", "r-x", "---", "rwx"])
    func protectionRoundTrips(text: String) throws {
        #expect(try #require(Protection(text)).description == text)
    }

    @Test func protectionRejectsGarbage() {
        #expect(Protection("rw") == nil)
        #expect(Protection("wr-") == nil)
    }
}
