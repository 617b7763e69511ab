import NIOCore

/// One frame of the newline-delimited transport.
package enum Frame {
    /// A complete line, without `\n` (nor a `\r` before it); never empty.
    case line(ByteBuffer)
    /// More than the limit arrived without a newline: the connection must be closed.
    case tooLong
}

/// Splits the byte stream into lines of at most `maxLength` bytes.
///
/// Blank lines are skipped. A partial line that gets no new byte for
/// `idleTimeout` closes the connection (a client that stalls mid-request must not
/// hold a slot forever). The JSON-RPC layer only ever sees complete lines.
package final class LineFrameDecoder: ByteToMessageDecoder {
    package typealias InboundOut = Frame

    let maxLength: Int
    let idleTimeout: TimeAmount
    private var scannedBytes = 0
    private var idleTimer: Scheduled<Void>?
    private var overflowed = false

    package init(maxLength: Int, idleTimeout: TimeAmount) {
        self.maxLength = maxLength
        self.idleTimeout = idleTimeout
    }

    package func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard !overflowed else {
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            return .needMoreData
        }
        let view = buffer.readableBytesView
        let searchStart = view.startIndex + scannedBytes
        guard let newline = view[searchStart...].firstIndex(of: UInt8(ascii: "\n")) else {
            scannedBytes = view.count
            if view.count > maxLength {
                overflowed = true
                cancelIdleTimer()
                buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
                context.fireChannelRead(wrapInboundOut(.tooLong))
            } else {
                armIdleTimer(context: context)
            }
            return .needMoreData
        }
        scannedBytes = 0
        var length = newline - view.startIndex
        if length > maxLength {
            overflowed = true
            cancelIdleTimer()
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            context.fireChannelRead(wrapInboundOut(.tooLong))
            return .needMoreData
        }
        var line = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 1)
        if length > 0, line.getInteger(at: line.readerIndex + length - 1, as: UInt8.self) == UInt8(ascii: "\r") {
            length -= 1
            line = line.getSlice(at: line.readerIndex, length: length)!
        }
        if buffer.readableBytes == 0 { cancelIdleTimer() }
        if !isBlank(line) { context.fireChannelRead(wrapInboundOut(.line(line))) }
        return .continue
    }

    package func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        cancelIdleTimer()
        // A last line without its newline is incomplete: dropped, as the contract frames by `\n`.
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        return .needMoreData
    }

    package func handlerRemoved(context: ChannelHandlerContext) {
        cancelIdleTimer()
    }

    private func isBlank(_ line: ByteBuffer) -> Bool {
        line.readableBytesView.allSatisfy { $0 == 0x20 || $0 == 0x09 }
    }

    private func armIdleTimer(context: ChannelHandlerContext) {
        cancelIdleTimer()
        let loopContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        idleTimer = context.eventLoop.scheduleTask(in: idleTimeout) {
            loopContext.value.close(promise: nil)
        }
    }

    private func cancelIdleTimer() {
        idleTimer?.cancel()
        idleTimer = nil
    }
}
