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
    static func register(_ meminfo: Meminfo, into registry: PrometheusCollectorRegistry) {
        for entry in meminfo.entries {
            let key = meminfoName(entry.key)
            let unit = entry.isBytes ? "bytes" : ""
            let field = entry.isBytes ? "\(key)_bytes" : key
            registry.makeGauge(descriptor: MetricNameDescriptor(
                namespace: "node", subsystem: "memory", metricName: key, unitName: unit,
                helpText: "Memory information field \(field)."))
            .set(to: Double(entry.value))
        }
    }

    /// `Active(anon)` → `Active_anon`: node_exporter replaces `\((.*)\)` with `_$1`.
    static func meminfoName(_ key: String) -> String {
        guard let open = key.firstIndex(of: "("), let close = key.lastIndex(of: ")"), open < close else { return key }
        return key[..<open] + "_" + key[key.index(after: open)..<close] + key[key.index(after: close)...]
    }

    /// `node_vmstat_<key>` for every line of /proc/vmstat (node_exporter keeps a
    /// few by default; memd keeps all). The families are `untyped` in
    /// node_exporter: their names are returned so the exposition can say so.
    static func register(_ vmstat: Vmstat, into registry: PrometheusCollectorRegistry) -> Set<String> {
        var names = Set<String>()
        for (key, value) in vmstat.entries {
            let descriptor = MetricNameDescriptor(
                namespace: "node", subsystem: "vmstat", metricName: key, unitName: "",
                helpText: "/proc/vmstat information field \(key).")
            registry.makeGauge(descriptor: descriptor).set(to: Double(value))
            names.insert(descriptor.name)
        }
        return names
    }

    /// node_exporter's pressure collector: the `some` and `full` totals, in seconds.
    static func register(_ pressure: Pressure, into registry: PrometheusCollectorRegistry) {
        registry.makeCounter(descriptor: MetricNameDescriptor(
            namespace: "node", subsystem: "pressure", metricName: "memory_waiting", unitName: "seconds_total",
            helpText: "Total time in seconds that processes have waited for memory"))
        .increment(by: pressure.some.totalSeconds)
        if let full = pressure.full {
            registry.makeCounter(descriptor: MetricNameDescriptor(
                namespace: "node", subsystem: "pressure", metricName: "memory_stalled", unitName: "seconds_total",
                helpText: "Total time in seconds no process could make progress due to memory congestion"))
            .increment(by: full.totalSeconds)
        }
    }
}
