import CoreMetrics
import NIOConcurrencyHelpers
import Prometheus

/// memd's own health: calls answered, their latency, and what is open now.
///
/// Kept with swift-metrics (counters, meters, timers) backed by a
/// swift-prometheus registry of its own. One instance lives as long as memd;
/// the server calls it from its request path:
///
/// - `requestFinished(method:code:seconds:)` once per answered call;
/// - `connectionOpened()` / `connectionClosed()` per accepted socket connection;
/// - `experimentStarted()` / `experimentFinished()`, `machineCreated()` /
///   `machineDestroyed()`, `watchStarted()` / `watchEnded()`.
///
/// Every method is safe from any thread and costs a lock-free atomic update
/// plus, for a (method, code) pair seen before, one dictionary look-up.
public final class HealthMetrics: Sendable {
    /// Families and their HELP texts (also the list in Protocol/README.md's Metrics section).
    static let help: [String: String] = [
        "memd_requests_total": "Calls answered on the Unix socket, by method and JSON-RPC code (0: a result).",
        "memd_request_duration_seconds": "Time from a call's arrival to its answer, by method.",
        "memd_connections": "Unix-socket connections open now.",
        "memd_experiments_running": "Experiments running now.",
        "memd_sim_machines": "Simulated machines existing now.",
        "memd_watches": "Watches (subscriptions) open now.",
        "memd_build_info": "Always 1; the label says which memd this is.",
    ]

    /// Latency buckets: inline /proc calls take microseconds, experiments up to minutes.
    static let durationBuckets: [Duration] = [
        .microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(5), .milliseconds(10),
        .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5), .seconds(30),
        .seconds(120),
    ]

    /// The label every method name outside `knownMethods` is counted under, so a
    /// client sending made-up names cannot grow the number of series.
    public static let otherMethod = "other"

    let registry = PrometheusCollectorRegistry()
    private let factory: HelpedMetricsFactory
    private let knownMethods: Set<String>
    private let connections: Meter
    private let experiments: Meter
    private let machines: Meter
    private let watches: Meter
    /// The swift-metrics handles made so far, by method and by (method, code): making
    /// one asks the registry, which checks the name and help text again each time.
    private let counters = NIOLockedValueBox<[CallKey: CoreMetrics.Counter]>([:])
    private let timers = NIOLockedValueBox<[String: CoreMetrics.Timer]>([:])

    /// - Parameters:
    ///   - version: memd's version, the `version` label of `memd_build_info`.
    ///   - methods: the method names memd answers; any other is counted as `other`.
    public init(version: String, methods: some Sequence<String>) {
        factory = HelpedMetricsFactory(registry: registry, help: Self.help, durationBuckets: Self.durationBuckets)
        knownMethods = Set(methods)
        connections = Meter(label: "memd_connections", dimensions: [], factory: factory)
        experiments = Meter(label: "memd_experiments_running", dimensions: [], factory: factory)
        machines = Meter(label: "memd_sim_machines", dimensions: [], factory: factory)
        watches = Meter(label: "memd_watches", dimensions: [], factory: factory)
        for meter in [connections, experiments, machines, watches] { meter.set(0) }
        Gauge(label: "memd_build_info", dimensions: [("version", version)], factory: factory).record(1)
    }

    /// One call answered: `code` 0 for a result, else the JSON-RPC error code
    /// (-32601 for an unknown method, -32001, …); `seconds` from its arrival.
    public func requestFinished(method: String, code: Int, seconds: Double) {
        let name = knownMethods.contains(method) ? method : Self.otherMethod
        let factory = self.factory
        counters.withLockedValue { counters in
            let key = CallKey(method: name, code: code)
            if let counter = counters[key] { return counter }
            let counter = Counter(
                label: "memd_requests_total",
                dimensions: [("method", name), ("code", String(code))],
                factory: factory
            )
            counters[key] = counter
            return counter
        }.increment()
        // A negative or non-finite duration (a clock step) is recorded as zero, never a trap.
        let nanoseconds = seconds.isFinite && seconds > 0 ? Int64(min(seconds, 1e9) * 1e9) : 0
        timers.withLockedValue { timers in
            if let timer = timers[name] { return timer }
            let timer = Timer(label: "memd_request_duration_seconds", dimensions: [("method", name)], factory: factory)
            timers[name] = timer
            return timer
        }.recordNanoseconds(nanoseconds)
    }

    public func connectionOpened() { connections.increment() }
    public func connectionClosed() { connections.decrement() }
    public func experimentStarted() { experiments.increment() }
    public func experimentFinished() { experiments.decrement() }
    public func machineCreated() { machines.increment() }
    public func machineDestroyed() { machines.decrement() }
    public func watchStarted() { watches.increment() }
    public func watchEnded() { watches.decrement() }

    private struct CallKey: Hashable {
        var method: String
        var code: Int
    }

    /// Appends the families in the Prometheus text format (0.0.4).
    func emit(into buffer: inout [UInt8]) { registry.emit(into: &buffer) }
}
