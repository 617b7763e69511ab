import Dispatch
import Glibc
import Synchronization
import Testing

@testable import MemdServer

/// Jobs a running job offers to another thread of its uid's share (``FairPool/alongside``): taken
/// only by a thread that is idle, within the uid's share, so offers never pile up in the queues
/// (a uid calling `maps` on every connection would otherwise queue a read-ahead per call).
@Suite struct FairPoolOfferTests {
    /// Runs `offers` offers from a job of uid 1 on `pool`, each offered job blocking until the test
    /// lets it go; how many of them ran in the end.
    static func offered(_ offers: Int, pool: FairPool) async throws -> Int {
        while pool.idleThreads < pool.threads { try await Task.sleep(for: .milliseconds(5)) }
        let ran = Mutex(0)
        let release = DispatchSemaphore(value: 0)
        let offered = DispatchSemaphore(value: 0)
        pool.enqueue(
            .body {
                let alongside = FairPool.alongside!
                for _ in 0..<offers {
                    alongside {
                        ran.withLock { $0 += 1 }
                        release.wait()
                    }
                }
                offered.signal()
                usleep(100_000)  // the offering job holds its thread a while: offers are not taken back
            },
            uid: 1,
            lane: ObjectIdentifier(FairPoolOfferTests.self)
        )
        offered.wait()
        for _ in 0..<offers { release.signal() }  // every offer that ran (or runs later) may go
        try await Task.sleep(for: .milliseconds(300))
        try await pool.shutdown()
        return ran.withLock { $0 }
    }

    @Test func offersGoOnlyToIdleThreads() async throws {
        // Two threads: one runs the offering job, one is idle: one offer of ten is taken.
        #expect(try await Self.offered(10, pool: FairPool(threads: 2, maxPerUID: 2)) == 1)
        // Four threads, three idle.
        #expect(try await Self.offered(10, pool: FairPool(threads: 4, maxPerUID: 4)) == 3)
    }

    @Test func offersStayWithinTheUIDsShare() async throws {
        // Idle threads, but the uid already holds its one thread.
        #expect(try await Self.offered(10, pool: FairPool(threads: 4, maxPerUID: 1)) == 0)
    }

    @Test func offThePoolThereIsNoOffer() {
        #expect(FairPool.alongside == nil)
    }
}
