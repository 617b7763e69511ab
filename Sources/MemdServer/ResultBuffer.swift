import JSONRPC
import MemdProtocol
import NIOConcurrencyHelpers
import NIOCore

/// Memory the server hands a call for its result's JSON text, so that a large result (`maps` of
/// 60,000 mappings, 8.7 MB) is written straight into the buffer that is sent: no second buffer of
/// the same size, no copy. Room for the response's head (`{"jsonrpc":"2.0","id":…,"result":`) is
/// left in front of the text; the ``Dispatcher`` writes the head there and the tail after it.
///
/// A handler that writes its result here ``hold(_:)``s the buffer; the dispatcher then sends it and
/// ignores the JSON the handler returned. One per call; filled by the call's task only.
public final class ResultBuffer: Sendable {
    /// Bytes left in front of the text for the response's head; an id too long for it (a string id
    /// of more than ~90 bytes) costs one copy of the text, nothing else.
    static let headRoom = 128

    private let held = NIOLockedValueBox<ByteBuffer?>(nil)

    public init() {}

    /// A buffer for `capacity` bytes of text, its writer after the head's room; transparent huge
    /// pages asked for (a big answer's pages come as it is written).
    public func start(capacity: Int) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(
            capacity: Self.headRoom + capacity + Response.resultTail.utf8CodeUnitCount
        )
        buffer.withVeryUnsafeMutableBytes { HugePages.advise($0) }
        buffer.moveWriterIndex(forwardBy: Self.headRoom)
        buffer.moveReaderIndex(forwardBy: Self.headRoom)
        return buffer
    }

    /// The text of the result is complete in `buffer` (from ``start(capacity:)``): send it.
    public func hold(_ buffer: ByteBuffer) { held.withLockedValue { $0 = buffer } }

    /// The held text, if any (once).
    func take() -> ByteBuffer? { held.withLockedValue { $0.take() } }
}
