import NIOCore
import Testing

@testable import MemdServer

/// The framing layer alone: every split point of a stream gives the same lines.
@Suite struct LineFramerTests {
    func lines(_ chunks: [[UInt8]], max: Int = 64) -> [String] {
        var framer = LineFramer(maxLength: max)
        var out: [String] = []
        for chunk in chunks {
            framer.append(ByteBuffer(bytes: chunk))
            while let frame = framer.next() {
                switch frame {
                case .line(let buffer): out.append(String(buffer: buffer))
                case .tooLong: out.append("<too long>")
                }
            }
        }
        return out
    }

    @Test func everySplitPoint() {
        let stream = Array("{\"a\":1}\n\r\n\n  \n{\"b\":2}\r\nlast\n".utf8)
        let expected = ["{\"a\":1}", "{\"b\":2}", "last"]
        #expect(lines([stream]) == expected)
        for split in 1..<stream.count {
            #expect(lines([Array(stream[..<split]), Array(stream[split...])]) == expected, "split at \(split)")
        }
        #expect(lines(stream.map { [$0] }) == expected)
    }

    @Test func overLimitIsReportedOnce() {
        #expect(lines([Array(repeating: 0x78, count: 65)]) == ["<too long>"])
        #expect(
            lines([Array(repeating: 0x78, count: 40), Array(repeating: 0x78, count: 40), [0x0A]]) == ["<too long>"]
        )
        #expect(lines([Array(repeating: 0x78, count: 64) + [0x0A]]) == [String(repeating: "x", count: 64)])
    }

    /// Lines are taken one at a time: what is not asked for stays, and a partial line is known.
    @Test func linesAreTakenWhenAskedAndAPartialLineIsKnown() {
        var framer = LineFramer(maxLength: 64)
        framer.append(ByteBuffer(string: "a\nb\nc"))
        #expect(framer.isMidLine)
        guard case .line(let a) = framer.next() else {
            Issue.record("no first line")
            return
        }
        #expect(String(buffer: a) == "a")
        framer.append(ByteBuffer(string: "d\n"))
        #expect(!framer.isMidLine)
        var rest: [String] = []
        while case .line(let line) = framer.next() { rest.append(String(buffer: line)) }
        #expect(rest == ["b", "cd"])
    }
}
