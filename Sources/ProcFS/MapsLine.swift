#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One header line of /proc/PID/maps or smaps (fs/proc/task_mmu.c, show_map_vma), decoded where
/// it lies: the numbers parsed, the text fields left as the kernel's bytes. No String and no
/// ``Mapping`` is made, so 60,000 lines cost no allocation; the bytes are valid only while the
/// buffer the line was read into is (the call that hands the line on).
public struct MapsLine {
    public let start: UInt64
    public let end: UInt64
    public let offset: UInt64
    public let inode: UInt64
    /// `r-xp`, `rw-s`, … as printed.
    public let perms: UnsafeBufferPointer<UInt8>
    /// `major:minor` in hex, as printed.
    public let device: UnsafeBufferPointer<UInt8>
    /// The name as printed, ` (deleted)` removed (seq_file's `\012` escape still in); nil for none.
    public let name: UnsafeBufferPointer<UInt8>?
    public let isDeleted: Bool

    /// Decodes a header line (without its `\n`).
    public init(_ line: Slice<UnsafeBufferPointer<UInt8>>) throws(ProcError) {
        var s = ByteScanner(UnsafeBufferPointer(rebasing: line))
        // The kernel prints vm_start-vm_end, end above start: a range the other way round is no
        // mapping (its size would be negative).
        guard let start = s.hex(), s.expect(UInt8(ascii: "-")), let end = s.hex(), end >= start,
            end - start <= UInt64(Int.max)  // its size is written as an Int: no kernel maps wider
        else {
            throw .malformed(path: "maps", reason: "bad address range in \"\(String(line))\"")
        }
        let perms = s.word()
        s.skipSpaces()
        guard perms.count == 4, let offset = s.hex() else {
            throw .malformed(path: "maps", reason: "bad perms or offset in \"\(String(line))\"")
        }
        let device = s.word()
        guard let inode = s.unsignedDecimal() else {
            throw .malformed(path: "maps", reason: "bad inode in \"\(String(line))\"")
        }
        s.skipSpaces()
        var name: UnsafeBufferPointer<UInt8>? = nil
        var isDeleted = false
        if !s.isAtEnd {
            var rest = UnsafeBufferPointer(rebasing: s.bytes[s.index...])
            let suffix = MapsLine.deletedSuffix.utf8CodeUnitCount
            if rest.count >= suffix,
                memcmp(rest.baseAddress! + rest.count - suffix, MapsLine.deletedSuffix.utf8Start, suffix) == 0
            {
                isDeleted = true
                rest = UnsafeBufferPointer(rebasing: rest.dropLast(suffix))
            }
            name = rest
        }
        (self.start, self.end, self.offset, self.inode) = (start, end, offset, UInt64(inode))
        self.perms = UnsafeBufferPointer(rebasing: perms)
        self.device = UnsafeBufferPointer(rebasing: device)
        (self.name, self.isDeleted) = (name, isDeleted)
    }

    static let deletedSuffix: StaticString = " (deleted)"

    public var size: UInt64 { end - start }

    public var kind: MappingKind { MappingKind(name: name) }

    /// Whether the text fields are their ``Mapping``'s Strings byte for byte: all ASCII (a String
    /// of other bytes repairs what is not UTF-8) and no escape in the name (``path`` undoes `\012`).
    public var isPlain: Bool {
        func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
            var any: UInt8 = 0
            for byte in bytes { any |= byte }
            return any < 0x80
        }
        guard isASCII(perms), isASCII(device) else { return false }
        guard let name else { return true }
        return isASCII(name) && !name.contains(UInt8(ascii: "\\"))
    }

    /// The real name: seq_file's `\012` (newline) escape undone (seq_file_path escapes only `\n`).
    public var path: String? { name.map { MapsParser.decodeEscapes($0[...]) } }
}

extension Mapping {
    /// The mapping of a header line, with its smaps figures and lines when read from smaps.
    public init(_ line: MapsLine, detail: SmapsDetail? = nil, smaps: SmapsFields? = nil) {
        self.init(
            start: line.start,
            end: line.end,
            perms: String(decoding: line.perms, as: UTF8.self),
            offset: line.offset,
            device: String(decoding: line.device, as: UTF8.self),
            inode: line.inode,
            path: line.path,
            isDeleted: line.isDeleted,
            kind: line.kind,
            detail: detail,
            smaps: smaps
        )
    }
}
