import NIOConcurrencyHelpers
import ProcFS
import Prometheus

/// The host's memory figures under node_exporter's names, so dashboards and
/// alerts written for node_exporter work on memd unchanged.
///
/// node_exporter's collectors (collector/meminfo_linux.go, vmstat_linux.go,
/// pressure_linux.go) define the names; the values come from one read of
/// /proc/meminfo, /proc/vmstat and /proc/pressure/memory per scrape.
enum HostMetrics {
    /// `node_memory_<Key>_bytes` for every `kB` key, `node_memory_<Key>` for unitless ones.
    static func meminfoDescriptor(_ entry: Meminfo.Entry) -> MetricNameDescriptor {
        let key = meminfoName(entry.key)
        let field = entry.isBytes ? "\(key)_bytes" : key
        return MetricNameDescriptor(
            namespace: "node",
            subsystem: "memory",
            metricName: key,
            unitName: entry.isBytes ? "bytes" : "",
            helpText: "Memory information field \(field)."
        )
    }

    /// `node_vmstat_<key>` for every line of /proc/vmstat (node_exporter keeps a
    /// few by default; memd keeps all). node_exporter declares them `untyped`.
    static func vmstatDescriptor(_ key: String) -> MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "node",
            subsystem: "vmstat",
            metricName: key,
            unitName: "",
            helpText: "/proc/vmstat information field \(key)."
        )
    }

    /// `Active(anon)` → `Active_anon`: node_exporter replaces `\((.*)\)` with `_$1`.
    static func meminfoName(_ key: String) -> String {
        guard let open = key.firstIndex(of: "("), let close = key.lastIndex(of: ")"), open < close else { return key }
        return key[..<open] + "_" + key[key.index(after: open)..<close] + key[key.index(after: close)...]
    }

    /// node_exporter's pressure collector: the `some` and `full` totals, in seconds.
    static func register(_ pressure: Pressure, into registry: PrometheusCollectorRegistry) {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "node",
                subsystem: "pressure",
                metricName: "memory_waiting",
                unitName: "seconds_total",
                helpText: "Total time in seconds that processes have waited for memory"
            )
        )
        .increment(by: pressure.some.totalSeconds)
        if let full = pressure.full {
            registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    namespace: "node",
                    subsystem: "pressure",
                    metricName: "memory_stalled",
                    unitName: "seconds_total",
                    helpText: "Total time in seconds no process could make progress due to memory congestion"
                )
            )
            .increment(by: full.totalSeconds)
        }
    }
}

/// The meminfo and vmstat gauges, kept from scrape to scrape in a registry of
/// their own: the kernel's set of keys does not change while it runs, so each
/// gauge is made once (swift-prometheus validates a name and its help text at
/// every `makeGauge`) and set from a fresh read at every scrape. A key that
/// appeared since is added; the lock keeps two scrapes from interleaving.
final class HostGauges: Sendable {
    private struct State {
        let registry = PrometheusCollectorRegistry()
        var meminfo: [String: Gauge] = [:]
        var vmstat: [String: Gauge] = [:]
        var untyped: Set<String> = []
    }

    private let state = NIOLockedValueBox(State())

    /// Sets every gauge from `meminfo` and `vmstat`, appends the families in the
    /// 0.0.4 text format to `buffer`, and returns the names of the untyped ones.
    func emit(meminfo: Meminfo?, vmstat: Vmstat?, into buffer: inout [UInt8]) -> Set<String> {
        state.withLockedValue { state in
            for entry in meminfo?.entries ?? [] {
                if let gauge = state.meminfo[entry.key] {
                    gauge.set(to: Double(entry.value))
                } else {
                    let gauge = state.registry.makeGauge(descriptor: HostMetrics.meminfoDescriptor(entry))
                    gauge.set(to: Double(entry.value))
                    state.meminfo[entry.key] = gauge
                }
            }
            for (key, value) in vmstat?.entries ?? [] {
                if let gauge = state.vmstat[key] {
                    gauge.set(to: Double(value))
                } else {
                    let descriptor = HostMetrics.vmstatDescriptor(key)
                    let gauge = state.registry.makeGauge(descriptor: descriptor)
                    gauge.set(to: Double(value))
                    state.vmstat[key] = gauge
                    state.untyped.insert(descriptor.name)
                }
            }
            state.registry.emit(into: &buffer)
            return state.untyped
        }
    }
}
