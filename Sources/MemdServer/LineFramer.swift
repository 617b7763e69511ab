import NIOCore

/// One frame of the newline-delimited transport.
enum Frame {
    /// A complete line, without `\n` (nor a `\r` before it); never empty.
    case line(ByteBuffer)
    /// More than the limit arrived without a newline: the connection must be closed.
    case tooLong
}

/// Splits a connection's byte stream into lines of at most `maxLength` bytes, one line when asked.
///
/// The connection asks for the next line only when it will handle it now: what it has read but has
/// no turn for stays bytes here (a pipelined burst is never turned into a thousand frames at once),
/// and reading stops until it is taken. Blank lines are skipped; the JSON-RPC layer only ever sees
/// complete lines.
struct LineFramer {
    let maxLength: Int
    private var input: ByteBuffer?
    /// Bytes of `input` known to hold no newline.
    private var scanned = 0
    private(set) var isOverflowed = false
    /// Whether the stream now ends inside a line (bytes after the last newline).
    private(set) var isMidLine = false

    init(maxLength: Int) { self.maxLength = maxLength }

    /// Adds what was read.
    mutating func append(_ bytes: ByteBuffer) {
        guard !isOverflowed, bytes.readableBytes > 0 else { return }
        isMidLine = bytes.getInteger(at: bytes.writerIndex - 1, as: UInt8.self) != UInt8(ascii: "\n")
        if input == nil || input!.readableBytes == 0 {
            input = bytes
        } else {
            input!.writeImmutableBuffer(bytes)
        }
    }

    /// The next line, `.tooLong` once (then nothing more), or nil until more bytes come.
    mutating func next() -> Frame? {
        while !isOverflowed, var buffer = input, buffer.readableBytes > 0 {
            let view = buffer.readableBytesView
            guard let newline = view[(view.startIndex + scanned)...].firstIndex(of: UInt8(ascii: "\n")) else {
                scanned = view.count
                return view.count > maxLength ? overflow() : nil
            }
            scanned = 0
            var length = newline - view.startIndex
            guard length <= maxLength else { return overflow() }
            var line = buffer.readSlice(length: length)!
            buffer.moveReaderIndex(forwardBy: 1)
            input = buffer.readableBytes > 0 ? buffer : nil
            if length > 0, line.getInteger(at: line.readerIndex + length - 1, as: UInt8.self) == UInt8(ascii: "\r") {
                length -= 1
                line = line.getSlice(at: line.readerIndex, length: length)!
            }
            if !line.readableBytesView.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return .line(line) }
        }
        return nil
    }

    private mutating func overflow() -> Frame {
        isOverflowed = true
        isMidLine = false
        input = nil
        return .tooLong
    }
}
