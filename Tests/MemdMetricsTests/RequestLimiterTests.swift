import HTTPLimits
import NIOCore
import NIOEmbedded
import Testing

@testable import MemdMetrics

/// The limiter on an embedded channel, its clock moved by hand.
@Suite struct RequestLimiterTests {
    func channel(maxBytes: Int = 100) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(
            handler: RequestLimiter(maxBytes: maxBytes, timeout: .seconds(10), idleTimeout: .seconds(120))
        )
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    func bytes(_ count: Int) -> ByteBuffer { ByteBuffer(repeating: UInt8(ascii: "a"), count: count) }

    @Test func overTheSizeLimitCloses() throws {
        let channel = try channel()
        try channel.writeInbound(bytes(60))
        #expect(channel.isActive)
        #expect(try channel.readInbound(as: ByteBuffer.self)?.readableBytes == 60)
        try channel.writeInbound(bytes(41))
        #expect(!channel.isActive)
        // The bytes over the limit never reach the HTTP decoder.
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        // The pipeline's teardown after a close from inside it is a task on the loop: run it, or the
        // channel and its pipeline stay referencing each other (LeakSanitizer: 19 objects).
        channel.embeddedEventLoop.run()
    }

    @Test func slowRequestClosesAtTheTimeoutFromItsFirstByte() throws {
        let channel = try channel()
        for _ in 0..<9 {
            try channel.writeInbound(bytes(1))
            channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        }
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(!channel.isActive)
    }

    @Test func answeredRequestStartsAfresh() throws {
        let channel = try channel()
        try channel.writeInbound(bytes(90))
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        channel.pipeline.triggerUserOutboundEvent(RequestAnswered(), promise: nil)
        // The next request has its own 100 bytes and 10 s; keep-alive may idle 120 s.
        channel.embeddedEventLoop.advanceTime(by: .seconds(100))
        try channel.writeInbound(bytes(90))
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        #expect(channel.isActive)
        channel.pipeline.triggerUserOutboundEvent(RequestAnswered(), promise: nil)
        channel.embeddedEventLoop.advanceTime(by: .seconds(119))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(!channel.isActive)
    }

    @Test func silentConnectionClosesAfterTheIdleTimeout() throws {
        let channel = try channel()
        channel.embeddedEventLoop.advanceTime(by: .seconds(119))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(!channel.isActive)
    }
}
