import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// memd scraped by a real Prometheus server (Debian's `prometheus`), both on
/// free loopback ports, every second; the answers come from Prometheus's HTTP API.
@Suite(.serialized) struct PrometheusServerTests {
    /// Clients/prometheus/ in this checkout.
    static let clientDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Clients/prometheus")

    @Test func scrapedByPrometheus() throws {
        let prometheus = try #require(which("prometheus"), "Debian's prometheus package (scripts/test installs it)")
        let cgroup = try TestCgroup(limitBytes: 64 << 20)
        let memd = try MetricsMemd()
        let server = try PrometheusServer(
            scraping: memd,
            rules: Self.clientDirectory.appendingPathComponent("rules.yml"),
            executable: prometheus
        )
        let port = server.port
        func query(_ promql: String) throws -> [[String: Any]] { try server.query(promql) }
        func value(_ row: [String: Any]) -> Double? { PrometheusServer.value(row) }

        // A few scrapes: `up` is 1 after at least three of them.
        var scrapes = 0.0
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let row = try? query("count_over_time(up{job=\"memd\"}[1m])").first, let count = value(row) {
                scrapes = count
                if scrapes >= 3 { break }
            }
            usleep(500_000)
        }
        #expect(scrapes >= 3, "Prometheus did not scrape memd: \(server.logText)")
        #expect(try query("min_over_time(up{job=\"memd\"}[1m])").first.flatMap(value) == 1)

        // The scrape has no error, in the format Prometheus asked for (OpenMetrics first).
        let targets = try HTTPExchange.get(port: port, path: "/api/v1/targets")
        let active =
            ((try JSONSerialization.jsonObject(with: Data(targets.body)) as? [String: Any])?["data"]
            as? [String: Any])?["activeTargets"] as? [[String: Any]] ?? []
        #expect(active.count == 1)
        #expect(active.first?["health"] as? String == "up")
        #expect(active.first?["lastError"] as? String == "")

        let memTotal = try #require(try readMeminfo()["MemTotal"])
        #expect(try query("node_memory_MemTotal_bytes").first.flatMap(value) == Double(memTotal))
        #expect(try query("memd_build_info").first.flatMap(value) == 1)
        // node_exporter's names: the recording rule over them evaluates.
        let ratio = try query("instance:node_memory_available:ratio").first.flatMap(value)
        #expect(ratio.map { $0 > 0 && $0 <= 1 } == true)
        #expect(try query("node_vmstat_pgfault").first.flatMap(value).map { $0 > 0 } == true)

        // The cgroup this test made, with its limit; its name's `"` and `\` escaped in PromQL as in the exposition.
        let promqlPath = cgroup.path.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "\"", with: "\\\"")
        let limit = try query("memd_cgroup_memory_max_bytes{cgroup=\"\(promqlPath)\"}")
        #expect(limit.count == 1)
        #expect(limit.first.flatMap(value) == Double(64 << 20))
        #expect((limit.first?["metric"] as? [String: String])?["cgroup"] == cgroup.path)
    }
}

/// A real Prometheus (Debian's `prometheus`) on a free loopback port, scraping one memd
/// every second (with the shipped rules when given), stopped when released.
final class PrometheusServer {
    let port: Int
    let log: URL
    private let process = Process()
    private let logHandle: FileHandle

    init(scraping memd: MetricsMemd, rules: URL? = nil, executable: String) throws {
        let directory = memd.directory.appendingPathComponent("prometheus")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = try freeLoopbackPort()
        if let rules {
            try FileManager.default.copyItem(at: rules, to: directory.appendingPathComponent("rules.yml"))
        }
        let config = """
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            \(rules == nil ? "" : "rule_files: [rules.yml]")
            scrape_configs:
              - job_name: memd
                static_configs:
                  - targets: ["127.0.0.1:\(memd.port)"]
            """
        try config.write(to: directory.appendingPathComponent("prometheus.yml"), atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "--config.file=\(directory.path)/prometheus.yml", "--storage.tsdb.path=\(directory.path)/data",
            "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
        ]
        log = directory.appendingPathComponent("prometheus.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        logHandle = try FileHandle(forWritingTo: log)
        process.standardOutput = logHandle
        process.standardError = logHandle
        try process.run()
    }

    deinit {
        process.terminate()
        process.waitUntilExit()
        try? logHandle.close()
    }

    /// An instant query's result rows, from Prometheus's HTTP API.
    func query(_ promql: String) throws -> [[String: Any]] {
        let encoded = promql.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? promql
        let response = try HTTPExchange.get(port: port, path: "/api/v1/query?query=\(encoded)")
        let json = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        guard json?["status"] as? String == "success", let data = json?["data"] as? [String: Any] else {
            throw TestFailure.http("query \(promql): \(response.text)")
        }
        return data["result"] as? [[String: Any]] ?? []
    }

    static func value(_ row: [String: Any]) -> Double? {
        ((row["value"] as? [Any])?.last as? String).flatMap(Double.init)
    }

    var logText: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
}
