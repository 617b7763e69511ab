import NIOCore
import NIOEmbedded
import Testing

@testable import MemdServer

/// The framing layer alone: every split point of a stream gives the same lines.
@Suite struct LineFrameDecoderTests {
    func lines(_ chunks: [[UInt8]], max: Int = 64) throws -> [String] {
        let channel = EmbeddedChannel(
            handler: ByteToMessageHandler(LineFrameDecoder(maxLength: max, idleTimeout: .seconds(30)))
        )
        var out: [String] = []
        for chunk in chunks {
            try channel.writeInbound(ByteBuffer(bytes: chunk))
            while let frame = try channel.readInbound(as: Frame.self) {
                switch frame {
                case .line(let buffer): out.append(String(buffer: buffer))
                case .tooLong: out.append("<too long>")
                }
            }
        }
        _ = try? channel.finish()
        return out
    }

    @Test func everySplitPoint() throws {
        let stream = Array("{\"a\":1}\n\r\n\n  \n{\"b\":2}\r\nlast\n".utf8)
        let expected = ["{\"a\":1}", "{\"b\":2}", "last"]
        #expect(try lines([stream]) == expected)
        for split in 1..<stream.count {
            #expect(try lines([Array(stream[..<split]), Array(stream[split...])]) == expected, "split at \(split)")
        }
        #expect(try lines(stream.map { [$0] }) == expected)
    }

    @Test func overLimitIsReportedOnce() throws {
        #expect(try lines([Array(repeating: 0x78, count: 65)]) == ["<too long>"])
        #expect(
            try lines([Array(repeating: 0x78, count: 40), Array(repeating: 0x78, count: 40), [0x0A]]) == ["<too long>"]
        )
        #expect(try lines([Array(repeating: 0x78, count: 64) + [0x0A]]) == [String(repeating: "x", count: 64)])
    }
}
