#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What a mapping is, as `maps` reports it: from its path in /proc/PID/maps.
public enum MappingKind: String, Sendable, CaseIterable {
    case file, anon, heap, stack, vdso, vvar, vsyscall, other

    /// The kind for a maps path (already stripped of ` (deleted)`), or nil for none.
    public init(path: String?) {
        guard var path else {
            self = .anon
            return
        }
        self = path.withUTF8 { MappingKind(name: $0) }
    }

    /// The kind for a maps name as the kernel printed it (` (deleted)` stripped), or nil for none:
    /// the same as for its path (undoing `\012` or repairing bytes that are not UTF-8 changes
    /// neither the names matched whole nor the prefixes).
    public init(name: UnsafeBufferPointer<UInt8>?) {
        guard let name else {
            self = .anon
            return
        }
        func starts(_ text: StaticString) -> Bool {
            name.count >= text.utf8CodeUnitCount
                && memcmp(name.baseAddress!, text.utf8Start, text.utf8CodeUnitCount) == 0
        }
        func `is`(_ text: StaticString) -> Bool { name.count == text.utf8CodeUnitCount && starts(text) }
        if name.first == UInt8(ascii: "/") {
            self = .file
        } else if name.first != UInt8(ascii: "[") {
            self = .other
        } else if `is`("[heap]") {
            self = .heap
        } else if `is`("[stack]") {
            self = .stack
        } else if `is`("[vdso]") {
            self = .vdso
        } else if `is`("[vvar]") {
            self = .vvar
        } else if `is`("[vsyscall]") {
            self = .vsyscall
        } else if starts("[anon:") {
            self = .anon
        } else {
            self = .other
        }
    }
}

/// The smaps figures of one mapping, in bytes.
public struct SmapsDetail: Sendable, Equatable {
    public var rss = 0, pss = 0, sharedClean = 0, sharedDirty = 0, privateClean = 0, privateDirty = 0
    public var referenced = 0, anonymous = 0, swap = 0, locked = 0, anonHugePages = 0

    public init() {}

    /// Private clean + private dirty: what only this process holds.
    public var uss: Int { privateClean + privateDirty }

    /// The figures a smaps key names (most of smaps' two dozen keys name none of them).
    enum Figure {
        case rss, pss, swap, locked, anonymous, referenced, sharedClean, sharedDirty, privateClean
        case privateDirty, anonHugePages

        /// The figure of a `Key` (the text before the colon), or nil for a key not kept.
        init?(key: UnsafeBufferPointer<UInt8>) {
            func `is`(_ name: StaticString) -> Bool {
                memcmp(key.baseAddress!, name.utf8Start, name.utf8CodeUnitCount) == 0
            }
            switch key.count {
            case 3 where `is`("Rss"): self = .rss
            case 3 where `is`("Pss"): self = .pss
            case 4 where `is`("Swap"): self = .swap
            case 6 where `is`("Locked"): self = .locked
            case 9 where `is`("Anonymous"): self = .anonymous
            case 10 where `is`("Referenced"): self = .referenced
            case 12 where `is`("Shared_Clean"): self = .sharedClean
            case 12 where `is`("Shared_Dirty"): self = .sharedDirty
            case 13 where `is`("Private_Clean"): self = .privateClean
            case 13 where `is`("Private_Dirty"): self = .privateDirty
            case 13 where `is`("AnonHugePages"): self = .anonHugePages
            default: return nil
            }
        }
    }

    /// Sets one figure, in bytes.
    mutating func set(_ figure: Figure, bytes: Int) {
        switch figure {
        case .rss: rss = bytes
        case .pss: pss = bytes
        case .swap: swap = bytes
        case .locked: locked = bytes
        case .anonymous: anonymous = bytes
        case .referenced: referenced = bytes
        case .sharedClean: sharedClean = bytes
        case .sharedDirty: sharedDirty = bytes
        case .privateClean: privateClean = bytes
        case .privateDirty: privateDirty = bytes
        case .anonHugePages: anonHugePages = bytes
        }
    }

    /// Figure by figure. Each is at most 2^60 (``ByteScanner/maxKibibytes``) and a real process's
    /// sum is at most its address space (2^57 bytes with 5-level paging); text no kernel writes
    /// could sum past `Int.max`, so the sums wrap rather than trap.
    public static func + (a: SmapsDetail, b: SmapsDetail) -> SmapsDetail {
        var sum = SmapsDetail()
        sum.rss = a.rss &+ b.rss
        sum.pss = a.pss &+ b.pss
        sum.sharedClean = a.sharedClean &+ b.sharedClean
        sum.sharedDirty = a.sharedDirty &+ b.sharedDirty
        sum.privateClean = a.privateClean &+ b.privateClean
        sum.privateDirty = a.privateDirty &+ b.privateDirty
        sum.referenced = a.referenced &+ b.referenced
        sum.anonymous = a.anonymous &+ b.anonymous
        sum.swap = a.swap &+ b.swap
        sum.locked = a.locked &+ b.locked
        sum.anonHugePages = a.anonHugePages &+ b.anonHugePages
        return sum
    }
}

/// One line of /proc/PID/maps (fs/proc/task_mmu.c, show_map_vma), decoded.
public struct Mapping: Sendable, Equatable {
    public var start: UInt64
    public var end: UInt64
    /// As maps prints them: `r-xp`, `rw-s`, …
    public var perms: String
    public var offset: UInt64
    /// `major:minor` in hex, as maps prints it (`fd:01`).
    public var device: String
    public var inode: UInt64
    /// The real name: ` (deleted)` removed, `\012` turned back into a newline; nil for anonymous.
    public var path: String?
    public var isDeleted: Bool
    public var kind: MappingKind
    /// Present when read from smaps.
    public var detail: SmapsDetail?
    /// Every smaps line of the mapping, when read with ``MapsParser/Reading/smapsFields``.
    public var smaps: SmapsFields?

    public init(
        start: UInt64,
        end: UInt64,
        perms: String,
        offset: UInt64,
        device: String,
        inode: UInt64,
        path: String?,
        isDeleted: Bool = false,
        kind: MappingKind? = nil,
        detail: SmapsDetail? = nil,
        smaps: SmapsFields? = nil
    ) {
        self.start = start
        self.end = end
        self.perms = perms
        self.offset = offset
        self.device = device
        self.inode = inode
        self.path = path
        self.isDeleted = isDeleted
        self.kind = kind ?? MappingKind(path: path)
        self.detail = detail
        self.smaps = smaps
    }

    public var size: UInt64 { end - start }
}
