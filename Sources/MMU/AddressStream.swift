/// A generator of virtual addresses for batch translation: no per-access allocation.
protocol AddressStream {
    mutating func next() -> UInt64
}

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
        x ^= x << 13
        x ^= x >> 7
        x ^= x << 17
        if let mask { return start &+ (x & mask) }
        return start &+ (x % length)
    }
}

/// Addresses from a buffer (a moving cursor: one register in the batch loop, not a base and an index).
struct BufferStream: AddressStream {
    var cursor: UnsafePointer<UInt64>

    @inline(__always) mutating func next() -> UInt64 {
        let a = cursor.pointee
        cursor += 1
        return a
    }
}
