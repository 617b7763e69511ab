/// What a mapping is, as `maps` classifies it.
public enum MappingKind: String, Sendable, CaseIterable {
    case file, anon, heap, stack, other
}

/// A virtual memory area (`struct vm_area_struct`): a page-aligned range with one protection and backing.
struct VMA {
    var start: UInt64
    var end: UInt64
    var protection: Protection
    var isShared: Bool
    var kind: MappingKind
    /// Page-cache file id for file mappings and shared anonymous memory (shmem); nil for private anon.
    var fileID: Int?
    /// Byte offset into the file of `start`.
    var offset: UInt64
    /// What maps shows as path: nil for anonymous, "[heap]", "[stack]", a file name.
    var path: String?
    /// A raw PFN mapping (`remap_pfn_range`, VM_PFNMAP): frames are not managed or counted in rss.
    var isPFNMap = false

    var size: UInt64 { end - start }
    var perms: String { protection.description + (isShared ? "s" : "p") }
    func contains(_ address: UInt64) -> Bool { address >= start && address < end }
    /// The file page index of `address`.
    func filePage(_ address: UInt64) -> Int { Int((address - start + offset) >> Page.shift) }
}

/// One mapping as `maps` shows it; `detail` is filled when asked (smaps fields).
public struct MappingInfo: Sendable, Equatable {
    public var start: UInt64
    public var end: UInt64
    /// "r-xp", "rw-s", …
    public var perms: String
    public var offset: UInt64
    /// nil for anonymous, "[heap]", "[stack]", or the file name.
    public var path: String?
    public var kind: MappingKind
    public var detail: MappingDetail?
    public var size: UInt64 { end - start }
}

/// The smaps fields of one mapping, in bytes.
public struct MappingDetail: Sendable, Equatable {
    public var rss: UInt64 = 0
    /// Proportional set size: each page divided by the number of address spaces mapping it.
    public var pss: UInt64 = 0
    public var sharedClean: UInt64 = 0
    public var sharedDirty: UInt64 = 0
    public var privateClean: UInt64 = 0
    public var privateDirty: UInt64 = 0
    public var referenced: UInt64 = 0
    public var anonymous: UInt64 = 0
    public var swap: UInt64 = 0
    public var locked: UInt64 = 0
    public var anonHugePages: UInt64 = 0
    public init() {}
}
