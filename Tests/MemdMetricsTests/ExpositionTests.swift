import Foundation
import MemdProtocol
import Testing

@testable import MemdMetrics

/// The exposition in-process: names, formats and escaping, checked with promtool.
@Suite struct ExpositionTests {
    @Test(arguments: [
        ("MemTotal", "MemTotal"), ("Active(anon)", "Active_anon"), ("Inactive(file)", "Inactive_file"),
        ("HugePages_Total", "HugePages_Total"),
    ])
    func meminfoNamesAsNodeExporter(key: String, name: String) {
        #expect(HostMetrics.meminfoName(key) == name)
    }

    @Test func negotiation() {
        // Prometheus 2.x's scrape Accept header.
        let prometheus =
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
            + "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
        #expect(ExpositionFormat.negotiate(accept: [prometheus]) == .openMetrics)
        #expect(ExpositionFormat.negotiate(accept: []) == .prometheusText)
        #expect(ExpositionFormat.negotiate(accept: ["text/plain"]) == .prometheusText)
        #expect(ExpositionFormat.negotiate(accept: ["application/openmetrics-text; q=0"]) == .prometheusText)
        #expect(ExpositionFormat.negotiate(accept: ["text/html", "Application/OpenMetrics-Text"]) == .openMetrics)
    }

    /// Every meminfo key the running kernel prints, under node_exporter's name, equal to /proc/meminfo's.
    @Test func liveMeminfoAndVmstat() throws {
        let text = String(decoding: Scraper(health: nil).render(.prometheusText), as: UTF8.self)
        let meminfo = try readMeminfo()
        #expect(meminfo.count > 20)
        for (key, value) in meminfo where key == "MemTotal" || key.hasPrefix("HugePages_") || key == "SwapTotal" {
            let name = "node_memory_" + HostMetrics.meminfoName(key) + (key.hasPrefix("HugePages_") ? "" : "_bytes")
            #expect(sample(name, in: text) == Double(value), "\(name)")
        }
        for key in meminfo.keys {
            let base = "node_memory_" + HostMetrics.meminfoName(key)
            #expect(text.contains("\n\(base)_bytes ") || text.contains("\n\(base) "), "\(key) missing")
        }
        #expect(text.contains("# TYPE node_vmstat_pgfault untyped\n"))
        #expect(text.contains("# TYPE node_memory_MemTotal_bytes gauge\n"))
        let vmstatLines = try readProc("/proc/vmstat").split(separator: "\n")
        for line in vmstatLines {
            #expect(text.contains("\nnode_vmstat_\(line.split(separator: " ")[0]) "), "\(line)")
        }
        if FileManager.default.fileExists(atPath: "/proc/pressure/memory") {
            #expect(text.contains("# TYPE node_pressure_memory_waiting_seconds_total counter\n"))
            #expect(text.contains("\nnode_pressure_memory_stalled_seconds_total "))
        }
        #expect(try promtoolFindings(Array(text.utf8)) == [])
    }

    @Test func openMetricsShape() throws {
        let health = HealthMetrics(version: "9.9.9", methods: ["meminfo"])
        health.requestFinished(method: "meminfo", code: 0, seconds: 0.002)
        let bytes = Scraper(health: health).render(.openMetrics)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasSuffix("\n# EOF\n"))
        #expect(text.components(separatedBy: "# EOF").count == 2)
        // Counter families are named without _total; their samples keep it.
        #expect(text.contains("# TYPE memd_requests counter\n"))
        #expect(text.contains("memd_requests_total{method=\"meminfo\",code=\"0\"} 1\n"))
        #expect(text.contains("# TYPE node_vmstat_pgfault unknown\n"))
        #expect(text.contains("# TYPE memd_request_duration_seconds histogram\n"))
        #expect(text.contains("memd_build_info{version=\"9.9.9\"} 1.0\n"))
        #expect(!text.contains(" untyped\n"))
    }

    /// A label value with `"`, `\` and a newline is escaped as the format requires,
    /// and promtool reads it back; a method memd does not know is counted as `other`.
    @Test func labelEscaping() throws {
        let odd = "we\"ird\\method\nname"
        let health = HealthMetrics(version: "v\"1\\", methods: [odd])
        health.requestFinished(method: odd, code: -32602, seconds: 0.5)
        health.requestFinished(method: "made-up-\(UUID())", code: -32601, seconds: 0.001)
        health.connectionOpened()
        var bytes: [UInt8] = []
        health.emit(into: &bytes)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains(#"memd_requests_total{method="we\"ird\\method\nname",code="-32602"} 1"#))
        #expect(text.contains(#"memd_requests_total{method="other",code="-32601"} 1"#))
        #expect(text.contains(#"memd_build_info{version="v\"1\\"} 1.0"#))
        #expect(text.contains("memd_connections 1.0\n"))
        #expect(try promtoolFindings(bytes) == [])
        let openMetrics = ExpositionFormat.openMetrics.finish(bytes, untyped: [])
        #expect(String(decoding: openMetrics, as: UTF8.self).contains(#"method="we\"ird\\method\nname""#))
    }

    @Test func hostileDurationsNeverTrap() {
        let health = HealthMetrics(version: "1", methods: ["x"])
        for seconds in [-1, .nan, .infinity, 1e300, 0] as [Double] {
            health.requestFinished(method: "x", code: 0, seconds: seconds)
        }
        var bytes: [UInt8] = []
        health.emit(into: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self).contains("memd_request_duration_seconds_count{method=\"x\"} 5"))
    }

    @Test(arguments: [
        ("127.0.0.1:9731", "127.0.0.1", 9731), ("[::1]:0", "::1", 0), ("localhost:65535", "localhost", 65535),
    ])
    func listenAddresses(text: String, host: String, port: Int) throws {
        let address = try ListenAddress(parsing: text)
        #expect(address.host == host && address.port == port)
    }

    @Test(arguments: [
        "9731", "::1:9731", "127.0.0.1:65536", "127.0.0.1:-1", ":80", "127.0.0.1:99999999999999999999999",
        "[::1]9731", "127.0.0.1:",
    ])
    func badListenAddresses(text: String) {
        #expect(throws: ListenAddress.ParseError.self) { try ListenAddress(parsing: text) }
    }
}
