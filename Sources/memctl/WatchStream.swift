import JSONRPC
import MemdProtocol
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One `watch` call on a client: each `watch.sample` to `onSample`, the summary returned.
///
/// With `stopOnInterrupt`, Ctrl-C (SIGINT, or SIGTERM) sends `watch.stop` for this watch, so it
/// ends normally and its summary still comes; a second Ctrl-C exits at once (130). The signals
/// are blocked in every thread and taken by one thread in `sigwait`: nothing runs in a signal
/// handler, and the main thread's blocking read is never interrupted.
enum WatchStream {
    static func run(
        _ client: MemdClient,
        params: WatchMethod.Params,
        stopOnInterrupt: Bool,
        onSample: (JSON) -> Void
    ) throws -> WatchMethod.Result {
        let stopper = stopOnInterrupt ? InterruptStopper.start(client) : nil
        return try client.call(WatchMethod.self, params) { method, sample in
            guard method == WatchMethod.sampleNotification else { return }
            if let stopper, let id = sample["requestId"] { stopper.watching(id) }
            onSample(sample)
        }
    }
}

/// Turns SIGINT/SIGTERM into a `watch.stop` (or `workingSet.stop`) request on the stream's connection.
final class InterruptStopper: @unchecked Sendable {
    private let client: MemdClient
    /// The method that ends the stream normally.
    private let stopMethod: String
    /// The stream's request id, once its first sample told it.
    private let id = Mutex<JSON?>(nil)

    private init(client: MemdClient, stopMethod: String) {
        self.client = client
        self.stopMethod = stopMethod
    }

    func watching(_ requestID: JSON) { id.withLock { $0 = requestID } }

    static func start(_ client: MemdClient, stopMethod: String = WatchStopMethod.name) -> InterruptStopper {
        let stopper = InterruptStopper(client: client, stopMethod: stopMethod)
        // A handler (never run: the signals stay blocked) so that an inherited SIG_IGN does not
        // discard them before sigwait can take them.
        signal(SIGINT) { _ in }
        signal(SIGTERM) { _ in }
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        var thread = pthread_t()
        let context = Unmanaged.passRetained(stopper).toOpaque()
        let started = pthread_create(
            &thread,
            nil,
            { context in
                let stopper = Unmanaged<InterruptStopper>.fromOpaque(context!).takeRetainedValue()
                stopper.waitForSignals()
                return nil
            },
            context
        )
        if started == 0 { pthread_detach(thread) }
        return stopper
    }

    private func waitForSignals() {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        var signal: Int32 = 0
        guard sigwait(&signals, &signal) == 0, let target = id.withLock({ $0 }) else { _exit(130) }
        var request: JSONObject = ["jsonrpc": "2.0", "id": "memctl-stop", "method": .string(stopMethod)]
        request["params"] = .object(WatchStopMethod.encode(.init(id: target)))
        var line = JSONWriter.encode(.object(request))
        line.append(UInt8(ascii: "\n"))
        if (try? client.send(line)) == nil { _exit(130) }
        // A second interrupt: the user means it. (One within 300 ms is the same one sent again,
        // as `timeout` does: to the process, then to its group.)
        var first = timespec()
        clock_gettime(CLOCK_MONOTONIC, &first)
        while sigwait(&signals, &signal) == 0 {
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            if (now.tv_sec - first.tv_sec) * 1000 + (now.tv_nsec - first.tv_nsec) / 1_000_000 >= 300 { _exit(130) }
        }
        _exit(130)
    }
}
