import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// The turns of one event loop, shared per uid: a connection that used up its slice waits here, and
/// gets its next slice only after the loop has looked at every socket again — and after one
/// connection of every other uid that waits has had its slice.
///
/// A task handed to the loop (`execute`) is no turn: NIO runs tasks until none is left before it
/// polls again, so connections that yield to each other that way would keep every socket — another
/// client's `meminfo` among them — waiting. A waiting connection instead arms a pipe whose read end
/// the loop polls with every other socket. When it rings, each uid with connections waiting gets
/// one slice, for the connection of its that has waited longest: a uid with 64 busy connections
/// holds the loop no longer per turn than a uid with one.
final class LoopTurns: @unchecked Sendable {
    let loop: EventLoop
    /// Confined to `loop`: the connections waiting, per uid, and the uids in turn order.
    private var waiting: [UInt32: CircularBuffer<() -> Void>] = [:]
    private var order = CircularBuffer<UInt32>()
    private var isArmed = false
    private let armFD: Int32
    /// Confined to `loop`: the connections that read their socket in this pass of the loop, to be
    /// handled once the loop has read every socket that was ready (and a spare list, swapped in).
    private var readers: [() -> Void] = []
    private var spare: [() -> Void] = []
    /// The /proc reads shared by the lines this loop read before the snapshot (``SharedReads``).
    let shared = SharedReads()

    private init(loop: EventLoop, armFD: Int32) {
        self.loop = loop
        self.armFD = armFD
    }

    deinit { close(armFD) }

    /// A `LoopTurns` for each loop of `group`, keyed by loop.
    static func make(for group: EventLoopGroup) async throws -> [ObjectIdentifier: LoopTurns] {
        var all: [ObjectIdentifier: LoopTurns] = [:]
        for loop in group.makeIterator() {
            var fds: [Int32] = [0, 0]
            guard pipe(&fds) == 0 else { throw IOError(errnoCode: errno, reason: "pipe") }
            for fd in fds {
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            }
            let turns = LoopTurns(loop: loop, armFD: fds[1])
            _ = try await NIOPipeBootstrap(group: loop)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(Bell(turns))
                    }
                }
                .takingOwnershipOfDescriptor(input: fds[0])
                .get()
            all[ObjectIdentifier(loop)] = turns
        }
        return all
    }

    /// Calls `handle` on the loop once it has read every socket that was ready in this pass (NIO runs
    /// tasks after the pass's reads): the lines of all of them are then handled together, and their
    /// `meminfo` calls share one read of /proc — every one of them came in before it.
    func afterReads(_ handle: @escaping () -> Void) {
        loop.preconditionInEventLoop()
        readers.append(handle)
        guard readers.count == 1 else { return }
        loop.execute { [self] in
            swap(&readers, &spare)
            for handle in spare { handle() }
            spare.removeAll(keepingCapacity: true)
        }
    }

    /// Calls `resume` on the loop in `uid`'s next turn, once the loop has polled its sockets again.
    func wait(uid: UInt32, _ resume: @escaping () -> Void) {
        loop.preconditionInEventLoop()
        if waiting[uid] == nil { order.append(uid) }
        waiting[uid, default: []].append(resume)
        arm()
    }

    private func arm() {
        guard !isArmed else { return }
        isArmed = true
        var byte: UInt8 = 1
        _ = write(armFD, &byte, 1)
    }

    /// The pipe rang: one slice for each uid that was waiting (a connection that uses it up again
    /// waits for the next ring, behind its uid's other connections).
    fileprivate func ring() {
        isArmed = false
        for _ in 0..<order.count {
            let uid = order.removeFirst()
            guard var queue = waiting.removeValue(forKey: uid), let resume = queue.popFirst() else { continue }
            if !queue.isEmpty {
                waiting[uid] = queue
                order.append(uid)
            }
            resume()
        }
        if !order.isEmpty { arm() }
    }

    private final class Bell: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let turns: LoopTurns
        init(_ turns: LoopTurns) { self.turns = turns }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
        func channelReadComplete(context: ChannelHandlerContext) { turns.ring() }
    }
}
