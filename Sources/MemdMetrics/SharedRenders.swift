import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The listener's renders of `/metrics`, shared by everyone asking (limits.md §6).
///
/// A request waits for the next render that starts after it arrived — its figures are never
/// older than the request — and every request waiting when a render starts gets that render's
/// bytes. Renders run one at a time, back to back, on the thread pool (/proc reads are file I/O).
/// So however many connections ask at once, memd renders at most twice while a request waits:
/// a flood cannot queue renders ahead of a Prometheus scrape, nor multiply the pool's work.
final class SharedRenders: Sendable {
    private struct Waiting {
        var format: ExpositionFormat
        var promise: EventLoopPromise<[UInt8]>
    }

    private struct State {
        var waiting: [Waiting] = []
        var rendering = false
    }

    private let scraper: Scraper
    private let threadPool: NIOThreadPool
    private let state = NIOLockedValueBox(State())

    init(scraper: Scraper, threadPool: NIOThreadPool) {
        self.scraper = scraper
        self.threadPool = threadPool
    }

    /// The body of a `/metrics` answer in `format`, from a render that starts after this call;
    /// failed if memd is stopping (its thread pool is gone).
    func render(_ format: ExpositionFormat, on loop: EventLoop) -> EventLoopFuture<[UInt8]> {
        let promise = loop.makePromise(of: [UInt8].self)
        let start = state.withLockedValue { state in
            state.waiting.append(Waiting(format: format, promise: promise))
            defer { state.rendering = true }
            return !state.rendering
        }
        if start {
            threadPool.submit { [self] work in
                guard case .active = work else {
                    failAll()
                    return
                }
                renderWhileWaited()
            }
        }
        return promise.futureResult
    }

    /// Renders for everyone waiting, again for whoever came meanwhile, until nobody waits.
    private func renderWhileWaited() {
        while let round = nextRound() {
            // One render per format asked for in this round.
            var bodies: [(format: ExpositionFormat, bytes: [UInt8])] = []
            for waiting in round {
                if let body = bodies.first(where: { $0.format == waiting.format }) {
                    waiting.promise.succeed(body.bytes)
                } else {
                    let bytes = scraper.render(waiting.format)
                    bodies.append((waiting.format, bytes))
                    waiting.promise.succeed(bytes)
                }
            }
        }
    }

    private func nextRound() -> [Waiting]? {
        state.withLockedValue { state in
            guard !state.waiting.isEmpty else {
                state.rendering = false
                return nil
            }
            defer { state.waiting = [] }
            return state.waiting
        }
    }

    private func failAll() {
        let waiting = state.withLockedValue { state in
            defer { state = State() }
            return state.waiting
        }
        for w in waiting { w.promise.fail(ChannelError.ioOnClosedChannel) }
    }
}
