import JSONRPC
import MemdProtocol
import NIOCore
import Synchronization

/// Memory the server hands a call for its result's JSON text, so that a large result (`maps` of
/// 60,000 mappings, 8.7 MB) is written straight into the buffer that is sent: no second buffer of
/// the same size, no copy. Room for the response's head (`{"jsonrpc":"2.0","id":…,"result":`) is
/// left in front of the text; the ``Dispatcher`` writes the head there and the tail after it.
///
/// Its memory is ``ReplyMemory``'s: the block the last large reply left, its pages already in.
///
/// A handler that writes its result here ``start(capacity:)``s it and writes the text into its
/// ``window(committing:atLeast:)``s; the
/// dispatcher then sends it and ignores the JSON the handler returned (a call that fails sends its
/// error, and the text goes with the call). One per call; filled by the call's task only.
public final class ResultBuffer: Sendable {
    /// Bytes left in front of the text for the response's head; an id too long for it (a string id
    /// of more than ~90 bytes) costs one copy of the text, nothing else.
    static let headRoom = 128

    /// Inline in the object (one allocation per call, not three: every `meminfo` makes one).
    private let held = Mutex<ByteBuffer?>(nil)

    public init() {}

    /// Starts the text: room for `capacity` bytes of it, after the head's room (it grows as it is
    /// written). Text written before (a call that started twice) is dropped.
    public func start(capacity: Int) {
        var buffer = ReplyMemory.allocator.buffer(
            capacity: Self.headRoom + capacity + Response.resultTail.utf8CodeUnitCount
        )
        buffer.moveWriterIndex(forwardBy: Self.headRoom)
        buffer.moveReaderIndex(forwardBy: Self.headRoom)
        held.withLock { $0 = buffer }
    }

    /// Takes the `used` first bytes of the last window as text and returns the next window: at
    /// least `atLeast` bytes of the buffer's free memory, after the text (none for 0). The writer
    /// writes straight into it; the buffer is written where it is held, never through a second
    /// reference (a copy of it would make the head's write copy all 8.7 MB: copy on write).
    ///
    /// Once the buffer grows past ``HugePages/threshold`` it is advised for huge pages (each growth
    /// is a new mapping, by mremap): the text's pages are then faulted in 2 MiB at a time, not 4 KiB.
    public func window(committing used: Int, atLeast: Int) -> UnsafeMutableRawBufferPointer {
        held.withLock { held in
            // Nothing held (not started, or taken already): a buffer of its own, so that the writer
            // always has memory (its text then goes nowhere, as a taken text's would).
            var buffer = held.take() ?? ReplyMemory.allocator.buffer(capacity: atLeast)
            buffer.moveWriterIndex(forwardBy: min(used, buffer.writableBytes))
            var window = UnsafeMutableRawBufferPointer(start: nil, count: 0)
            if atLeast > 0 {
                let capacity = buffer.capacity
                buffer.reserveCapacity(minimumWritableBytes: atLeast)
                if buffer.capacity != capacity, buffer.capacity >= HugePages.threshold {
                    buffer.withVeryUnsafeMutableBytes { HugePages.advise($0) }
                }
                // The buffer's own memory, held here and written by this call only until it asks
                // for the next window.
                window = buffer.withUnsafeMutableWritableBytes { $0 }
            }
            held = buffer
            return window
        }
    }

    /// The held text, if any (once).
    func take() -> ByteBuffer? { held.withLock { $0.take() } }
}
