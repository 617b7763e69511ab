#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The name of an entry readdir(3) returned, without its NUL.
///
/// Read through the pointer, never as `entry.pointee.d_name`: that copies all 256 bytes of
/// `d_name`, but glibc sizes each entry by its `d_reclen` (the name rounded up to 8 bytes), so
/// the last entry of its buffer ends a few bytes after its name (AddressSanitizer: a
/// heap-buffer-overflow in memd's startup sweep of `/tmp`).
public func directoryEntryName(_ entry: UnsafePointer<dirent>) -> UnsafeBufferPointer<UInt8> {
    let name = UnsafeRawPointer(entry) + direntNameOffset
    return UnsafeBufferPointer(start: name.assumingMemoryBound(to: UInt8.self), count: strlen(name))
}

/// Where `d_name` begins in `struct dirent` (a stored member: the layout always has it).
private let direntNameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name) ?? MemoryLayout<dirent>.size

/// The name of an entry readdir(3) returned, as text (bytes that are not UTF-8 repaired).
public func directoryEntryString(_ entry: UnsafePointer<dirent>) -> String {
    String(decoding: directoryEntryName(entry), as: UTF8.self)
}
