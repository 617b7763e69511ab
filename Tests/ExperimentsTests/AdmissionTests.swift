import Dispatch
import JSONRPC
import MemdProtocol
import Synchronization
import Testing

@testable import Experiments

#if canImport(Glibc)
import Glibc
#endif

/// limits.md §2–3 for experiments: 2 at once in all, 1 per uid other than root, and
/// a size budget shared by all running experiments that counts what each allocates.
@Suite(.serialized) struct AdmissionTests {
    /// The `resource` of the limit a call ran into, or nil if it was admitted.
    func refusal(_ body: () async throws -> Void) async -> String? {
        do {
            try await body()
            return nil
        } catch let error as ExperimentError {
            if case .resourceLimit(let resource, _, _) = error.code { return resource }
            return "other: \(error)"
        } catch {
            return "other: \(error)"
        }
    }

    /// Starts an experiment that stops at its first progress notification until `release`.
    final class Held: Sendable {
        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let task: Task<JSON, Error>

        init(_ runner: ExperimentRunner, _ request: ExperimentRequest, client: ClientIdentity) {
            let started = started
            let release = release
            let once = Mutex(false)
            var request = request
            request.progress = true
            task = Task {
                try await runner.run(request, client: client) { _ in
                    guard
                        once.withLock({
                            let first = !$0
                            $0 = true
                            return first
                        })
                    else { return }
                    started.signal()
                    release.wait()
                }
            }
        }

        func waitStarted() async {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().async {
                    self.started.wait()
                    done.resume()
                }
            }
        }

        func finish() async throws -> JSON {
            release.signal()
            return try await task.value
        }
    }

    @Test(.enabled(if: geteuid() == 0, "running as another uid needs root"))
    func onePerUidOtherThanRoot() async throws {
        let shared = runner()
        let nobody = ClientIdentity(uid: 65534, gid: 65534)
        let small = ExperimentRequest(name: .demandPaging, sizeBytes: 4 << 20, stepBytes: 4 << 20)
        let first = Held(shared, small, client: nobody)
        await first.waitStarted()
        #expect(await refusal { _ = try await shared.run(small, client: nobody) } == "experimentsPerUID")
        // Root is not limited per uid: the second slot is its.
        let rootOne = Held(shared, small, client: root)
        await rootOne.waitStarted()
        #expect(await refusal { _ = try await shared.run(small, client: root) } == "concurrentExperiments")
        _ = try await first.finish()
        _ = try await rootOne.finish()
        #expect(await refusal { _ = try await shared.run(small, client: nobody) } == nil, "the slot is given back")
    }

    @Test func sizeBudgetIsSharedAndCountsWhatIsAllocated() async throws {
        let mib = 1 << 20
        let shared = runner(ExperimentLimits(maxBytes: 64 * mib, maxConcurrent: 2))
        // cow holds its region twice: 40 MiB is 80 MiB of the 64.
        #expect(
            await refusal { _ = try await shared.run(ExperimentRequest(name: .cow, sizeBytes: 40 * mib), client: root) }
                == "experimentBytes"
        )
        let first = Held(
            shared,
            ExperimentRequest(name: .demandPaging, sizeBytes: 48 * mib, stepBytes: 16 * mib),
            client: root
        )
        await first.waitStarted()
        // 48 + 32 > 64: refused while the first runs …
        let second = ExperimentRequest(name: .demandPaging, sizeBytes: 32 * mib, stepBytes: 32 * mib)
        #expect(await refusal { _ = try await shared.run(second, client: root) } == "experimentBytes")
        // … 48 + 16 fits.
        #expect(
            await refusal {
                _ = try await shared.run(
                    ExperimentRequest(name: .demandPaging, sizeBytes: 16 * mib, stepBytes: 16 * mib),
                    client: root
                )
            } == nil
        )
        _ = try await first.finish()
        // The bytes are given back.
        #expect(await refusal { _ = try await shared.run(second, client: root) } == nil)
        #expect(ExperimentRequest(name: .cow, sizeBytes: Int.max).allocatedBytes == Int.max, "no overflow")
    }

    /// Many small steps are many points, not output: 96 MiB in 4 KiB steps writes
    /// ~1.3 MB of point lines, and runs to its end.
    @Test func manySmallStepsAreNotOverTheOutputLimit() async throws {
        let result = try await runner().run(
            ExperimentRequest(name: .demandPaging, sizeBytes: 96 << 20, stepBytes: 4096),
            client: root
        )
        let samples = try #require(result["real"]?["samples"]?.arrayValue)
        #expect(samples.count == 2 + (96 << 20) / 4096)
    }
}
