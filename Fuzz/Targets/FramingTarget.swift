import MemdServer
import NIOCore

extension FuzzTarget {
    /// The line framing fed a stream in chunks the input chooses: it hands on exactly the
    /// lines a plain split at `\n` gives (one `\r` before it dropped, blank lines skipped),
    /// and stops with one `tooLong` at the first line longer than the limit.
    static let framing = FuzzTarget("framing") { bytes in
        guard bytes.count >= 2 else { return }
        let maxLength = Int(bytes[0]) + 1
        let chunk = Int(bytes[1]) % 37 + 1
        let stream = Array(bytes.dropFirst(2))
        var framer = LineFramer(maxLength: maxLength)
        var frames: [[UInt8]?] = []  // nil: tooLong
        var start = 0
        while start < stream.count {
            let end = min(stream.count, start + chunk)
            framer.append(ByteBuffer(bytes: stream[start..<end]))
            // The connection takes lines one at a time, as it gets turns.
            while let frame = framer.next() {
                switch frame {
                case .line(let line): frames.append(Array(line.readableBytesView))
                case .tooLong: frames.append(nil)
                }
            }
            start = end
        }
        precondition(frames == expectedFrames(stream, maxLength: maxLength), "framing differs from a plain split")
    }

    /// The frames of `stream` by the contract's words, written as plainly as possible.
    static func expectedFrames(_ stream: [UInt8], maxLength: Int) -> [[UInt8]?] {
        var out: [[UInt8]?] = []
        var pieces = stream.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        let partial = pieces.removeLast()  // after the last newline: not a line yet
        for piece in pieces {
            if piece.count > maxLength { return out + [nil] }
            var line = Array(piece)
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            if !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { out.append(line) }
        }
        if partial.count > maxLength { out.append(nil) }
        return out
    }
}
