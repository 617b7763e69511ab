import HeapShims
@_spi(CustomByteBufferAllocator) import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The memory of large replies (``ResultBuffer``), one block of it kept from a reply to the next.
///
/// A `maps` of 60,000 mappings writes 8.7 MB; a fresh buffer for each call is a fresh mapping
/// whose pages the kernel must fault in and zero (a quarter of memd's CPU for that call), then
/// unmap once sent. So the block a sent reply leaves is kept, its pages resident, for the next
/// reply to write into, and given back to the system once no reply has used it for a second or
/// two (``tick()``, from ``Heap/giveBack(least:)``): at most ``largest`` bytes held while idle, and
/// not for long.
enum ReplyMemory {
    /// Blocks from glibc's mmap threshold (``Heap/configure()``: smaller ones live in its heaps
    /// and cost no faults) up to ``largest`` are kept.
    static let smallest = 256 << 10
    /// The largest block kept: a `maps` with `detail` of 60,000 mappings (18.5 MB, a 32 MiB buffer).
    static let largest = 33 << 20

    /// The kept block (its address) and its usable size; `isFresh`: left since the last tick.
    private struct Kept {
        var address: UInt = 0
        var size = 0
        var isFresh = false
    }

    private static let kept = Mutex(Kept())

    /// The allocator ``ResultBuffer`` makes its buffers with.
    static let allocator = ByteBufferAllocator(
        allocate: { size in ReplyMemory.take(atLeast: size) ?? malloc(size) },
        reallocate: { block, oldSize, newSize in ReplyMemory.resize(block, from: oldSize, to: newSize) },
        deallocate: { block in ReplyMemory.give(block) },
        copy: { to, from, count in to.copyMemory(from: from, byteCount: count) }
    )

    /// The kept block, if it has room for `size` bytes (it is then no longer kept).
    static func take(atLeast size: Int) -> UnsafeMutableRawPointer? {
        let address = kept.withLock { kept -> UInt in
            guard kept.address != 0, kept.size >= size else { return 0 }
            defer { kept = Kept() }
            return kept.address
        }
        return UnsafeMutableRawPointer(bitPattern: address)
    }

    /// A block grown (or shrunk) to `newSize`: where it is if it has room (glibc's realloc would
    /// shrink a large kept block to the size asked for), else the kept block if it has, else realloc.
    static func resize(
        _ block: UnsafeMutableRawPointer?,
        from oldSize: Int,
        to newSize: Int
    ) -> UnsafeMutableRawPointer? {
        guard let block else { return take(atLeast: newSize) ?? malloc(newSize) }
        if newSize <= Int(memd_heap_usable_size(block)) { return block }
        if let larger = take(atLeast: newSize) {
            larger.copyMemory(from: block, byteCount: min(oldSize, newSize))
            give(block)
            return larger
        }
        return realloc(block, newSize)
    }

    /// A block a reply is done with: kept if it is of a size worth keeping and larger than the
    /// one kept (which is then freed), else freed.
    static func give(_ block: UnsafeMutableRawPointer) {
        let size = Int(memd_heap_usable_size(block))
        var freed: UInt = UInt(bitPattern: block)
        if size >= smallest, size <= largest {
            kept.withLock { kept in
                guard size > kept.size else { return }
                freed = kept.address
                kept = Kept(address: UInt(bitPattern: block), size: size, isFresh: true)
            }
        }
        free(UnsafeMutableRawPointer(bitPattern: freed))
    }

    /// Once a second: the kept block goes back to the system if no reply has left it since the
    /// last tick (between one and two seconds after its last use).
    static func tick() {
        let address = kept.withLock { kept -> UInt in
            if kept.isFresh {
                kept.isFresh = false
                return 0
            }
            defer { kept = Kept() }
            return kept.address
        }
        free(UnsafeMutableRawPointer(bitPattern: address))
    }

    /// The bytes kept now.
    static var keptBytes: Int { kept.withLock { $0.size } }
}
