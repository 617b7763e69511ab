/// A generator of virtual addresses for batch translation: no per-access allocation.
protocol AddressStream {
    mutating func next() -> UInt64
    /// A hint, never acted on: the address that `next()` returns after `lookahead` more calls, or any
    /// address when the stream cannot tell cheaply (near the end of a buffer, across a stride's wrap).
    /// The batch loop prefetches that address's page-table entry while the current walk waits for memory.
    func upcoming() -> UInt64
}

/// How far ahead, in accesses, the batch loop prefetches: far enough that a walk's last table entry
/// has arrived from memory by the time the walk reaches it, near enough to still be in the cache.
let lookahead = 16

/// start, start+step, … wrapping within length (the `sequential` and `stride` patterns).
public struct StrideStream: AddressStream {
    @usableFromInline let start: UInt64
    @usableFromInline let length: UInt64
    @usableFromInline let step: UInt64
    @usableFromInline var offset: UInt64 = 0

    public init(start: UInt64, length: UInt64, step: UInt64) {
        self.start = start
        self.length = length
        self.step = step
    }

    @inlinable @inline(__always) public mutating func next() -> UInt64 {
        let a = start &+ offset
        offset &+= step
        if offset >= length { offset = step < length ? offset &- length : offset % length }
        return a
    }

    @inline(__always) func upcoming() -> UInt64 { start &+ offset &+ step &* UInt64(lookahead) }
}

/// Marsaglia's xorshift64 (13, 7, 17), as the C and Python reference walkers generate their random
/// stream: start + (x mod length), with a mask when length is a power of two.
public struct XorshiftStream: AddressStream {
    static let defaultSeed: UInt64 = 88_172_645_463_325_252
    @usableFromInline let start: UInt64
    @usableFromInline let length: UInt64
    @usableFromInline let mask: UInt64?
    @usableFromInline var x: UInt64

    public init(start: UInt64, length: UInt64, seed: UInt64) {
        self.start = start
        self.length = length
        mask = length & (length &- 1) == 0 ? length &- 1 : nil
        x = seed == 0 ? Self.defaultSeed : seed
    }

    @inlinable @inline(__always) public mutating func next() -> UInt64 {
        advance()
        return current
    }

    /// One xorshift64 step.
    @inlinable @inline(__always) mutating func advance() {
        x ^= x << 13
        x ^= x >> 7
        x ^= x << 17
    }

    /// The address of the current state (the one `next()` returned last).
    @inlinable @inline(__always) var current: UInt64 {
        if let mask { return start &+ (x & mask) }
        return start &+ (x % length)
    }

    /// Not cheaply known: xorshift cannot jump ahead. `RandomStream` runs a second generator ahead.
    @inline(__always) func upcoming() -> UInt64 { current }
}

/// The `random` pattern for the batch loop: a xorshift stream and a copy of it `lookahead + 1` steps
/// ahead, whose current address is `upcoming()` (the copy's step is a few register operations).
struct RandomStream: AddressStream {
    var stream: XorshiftStream
    var ahead: XorshiftStream

    init(_ stream: XorshiftStream) {
        self.stream = stream
        ahead = stream
        for _ in 0...lookahead { ahead.advance() }
    }

    @inline(__always) mutating func next() -> UInt64 {
        ahead.advance()
        return stream.next()
    }

    @inline(__always) func upcoming() -> UInt64 { ahead.current }
}

/// Addresses from a buffer (a moving cursor: one register in the batch loop, not a base and an index).
struct BufferStream: AddressStream {
    var cursor: UnsafePointer<UInt64>
    /// One past the last address.
    let end: UnsafePointer<UInt64>

    @inline(__always) mutating func next() -> UInt64 {
        let a = cursor.pointee
        cursor += 1
        return a
    }

    @inline(__always) func upcoming() -> UInt64 {
        let at = cursor + lookahead
        return at < end ? at.pointee : 0
    }
}
