/// A generator of virtual addresses for batch translation: no per-access allocation.
protocol AddressStream {
    mutating func next() -> UInt64
    /// The address `next()` returns, without taking it.
    func peek() -> UInt64
    /// Takes addresses while they lie on the 4 KiB page whose address is `page`, at most `limit` of them,
    /// and adds `frame | offset` of each to `total`; returns how many it took. None when `page` is not
    /// a page's address (the batch loop's 1 before its first page).
    mutating func take(onPage page: UInt64, frame: UInt64, limit: Int, into total: inout UInt64) -> Int
    /// A hint, never acted on: the address that `next()` returns after `lookahead` more calls, or any
    /// address when the stream cannot tell cheaply (near the end of a buffer, across a stride's wrap).
    /// The batch loop prefetches that address's page-table entry while the current walk waits for memory.
    func upcoming() -> UInt64
}

extension AddressStream {
    /// A loop of its own, so that the batch's run of hits on one page keeps its few values in registers.
    @inline(__always)
    mutating func take(onPage page: UInt64, frame: UInt64, limit: Int, into total: inout UInt64) -> Int {
        var taken = 0
        var sum = total
        while taken < limit {
            let a = peek()
            guard a & ~0xfff == page else { break }
            sum &+= frame | (a & 0xfff)
            _ = next()
            taken &+= 1
        }
        total = sum
        return taken
    }
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

    @inline(__always) func peek() -> UInt64 { start &+ offset }

    @inline(__always) func upcoming() -> UInt64 { start &+ offset &+ step &* UInt64(lookahead) }
}

/// Marsaglia's xorshift64 (13, 7, 17), as the C and Python reference walkers generate their random
/// stream: start + (x mod length), with a mask when length is a power of two. The batch loop runs it
/// as a `RandomStream`.
public struct XorshiftStream {
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
        x = Self.step(x)
    }

    @inlinable @inline(__always) static func step(_ x: UInt64) -> UInt64 {
        var x = x
        x ^= x << 13
        x ^= x >> 7
        x ^= x << 17
        return x
    }

    /// The address of state `x`.
    @inlinable @inline(__always) func address(_ x: UInt64) -> UInt64 {
        if let mask { return start &+ (x & mask) }
        return start &+ (x % length)
    }

    /// The address of the current state (the one `next()` returned last).
    @inlinable @inline(__always) var current: UInt64 { address(x) }

    /// The address `next()` returns, without taking it.
    @inline(__always) func peek() -> UInt64 { address(Self.step(x)) }
}

/// The `random` pattern for the batch loop: a xorshift stream and a copy of it `lookahead + 1` steps
/// ahead, whose current address is `upcoming()` (xorshift cannot jump ahead; the copy's step is a few
/// register operations).
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

    @inline(__always) func peek() -> UInt64 { stream.peek() }

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

    @inline(__always) func peek() -> UInt64 { cursor.pointee }

    /// Four addresses at a time while all four are on the page: as `frame` is page-aligned, each adds
    /// `frame + address - page`.
    @inline(__always)
    mutating func take(onPage page: UInt64, frame: UInt64, limit: Int, into total: inout UInt64) -> Int {
        guard page & 0xfff == 0 else { return 0 }
        let stop = cursor + limit
        var at = cursor
        var sum = total
        while stop - at >= 4 {
            let (a, b, c, d) = (at[0], at[1], at[2], at[3])
            guard ((a ^ page) | (b ^ page) | (c ^ page) | (d ^ page)) & ~0xfff == 0 else { break }
            sum &+= (a &+ b &+ c &+ d) &+ 4 &* (frame &- page)
            at += 4
        }
        while at < stop && at.pointee & ~0xfff == page {
            sum &+= frame | (at.pointee & 0xfff)
            at += 1
        }
        let taken = at - cursor
        cursor = at
        total = sum
        return taken
    }

    @inline(__always) func upcoming() -> UInt64 {
        let at = cursor + lookahead
        return at < end ? at.pointee : 0
    }
}
