import Foundation
import JSONRPC
import MemdProtocol
import Testing

@testable import MemdMetrics

#if canImport(Glibc)
import Glibc
#endif

/// A real memd's `/metrics` over TCP: formats, status codes, fresh reads, limits.
@Suite(.serialized) struct EndpointTests {
    @Test func textFormatMatchesProcMeminfo() throws {
        let memd = try MetricsMemd()
        let response = try HTTPExchange.get(port: memd.port, path: "/metrics")
        #expect(response.status == 200)
        #expect(response.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
        #expect(response.header("Content-Length") == String(response.body.count))
        let memTotal = try #require(try readMeminfo()["MemTotal"])
        #expect(sample("node_memory_MemTotal_bytes", in: response.text) == Double(memTotal))
        #expect(response.text.contains("memd_build_info{version=\""))
        #expect(try promtoolFindings(response.body) == [])
    }

    /// memd's own counters follow the socket: calls by method and code, their latency, connections.
    @Test func healthCountsCallsAndConnections() throws {
        let memd = try MetricsMemd()
        let client = try MemdClient(path: memd.socketPath)
        for _ in 0..<3 { _ = try client.call("meminfo") }
        #expect(throws: MemdClient.Failure.self) { _ = try client.call("maps", ["pid": .int(Int(Int32.max))]) }
        #expect(throws: MemdClient.Failure.self) { _ = try client.call("noSuchMethod") }
        _ = try client.call("sim.create")
        let gone = try client.call("sim.create")
        _ = try client.call("sim.destroy", ["machine": gone["machine"] ?? .null])
        let text = try HTTPExchange.get(port: memd.port, path: "/metrics").text
        #expect(sample("memd_sim_machines", in: text) == 1)
        #expect(sample("memd_requests_total{method=\"meminfo\",code=\"0\"}", in: text) == 3)
        #expect(sample("memd_requests_total{method=\"maps\",code=\"-32001\"}", in: text) == 1)
        #expect(sample("memd_requests_total{method=\"other\",code=\"-32601\"}", in: text) == 1)
        #expect(sample("memd_request_duration_seconds_count{method=\"meminfo\"}", in: text) == 3)
        #expect((sample("memd_connections", in: text) ?? 0) >= 1)
        #expect(try promtoolFindings(Array(text.utf8)) == [])
    }

    /// A cgroup made by the test shows with its limit; its name's `"` and `\` are escaped.
    @Test func cgroupWithItsLimit() throws {
        let cgroup = try TestCgroup(limitBytes: 48 << 20)
        let memd = try MetricsMemd(["--metrics-cgroup-depth", "1"])
        let response = try HTTPExchange.get(port: memd.port, path: "/metrics")
        let escaped = cgroup.path.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "\"", with: "\\\"")
        #expect(response.text.contains("memd_cgroup_memory_max_bytes{cgroup=\"\(escaped)\"} \(Double(48 << 20))\n"))
        #expect(response.text.contains("memd_cgroup_memory_current_bytes{cgroup=\"\(escaped)\"} "))
        #expect(response.text.contains("memd_cgroup_memory_current_bytes{cgroup=\"/\"} "))
        #expect(try promtoolFindings(response.body) == [])
        // Depth 0: the root only.
        let rootOnly = try MetricsMemd(["--metrics-cgroup-depth", "0"])
        let text = try HTTPExchange.get(port: rootOnly.port, path: "/metrics").text
        #expect(!text.contains(escaped))
        #expect(text.contains("memd_cgroup_memory_current_bytes{cgroup=\"/\"} "))
    }

    /// Nothing per user (or process) unless asked; with --metrics-usage, per-user sums
    /// close to smem -u's (processes come and go between the two reads).
    @Test func perUserSumsOnlyWhenAsked() throws {
        let plain = try MetricsMemd()
        let without = try HTTPExchange.get(port: plain.port, path: "/metrics").text
        #expect(!without.contains("memd_user_"))
        #expect(!without.contains("pid="))
        let memd = try MetricsMemd(["--metrics-usage"])
        let response = try HTTPExchange.get(port: memd.port, path: "/metrics")
        let me = String(cString: getpwuid(geteuid()).pointee.pw_name)
        func value(_ family: String) -> Double? { sample("\(family){user=\"\(me)\"}", in: response.text) }
        let pss = try #require(value("memd_user_memory_pss_bytes"))
        let uss = try #require(value("memd_user_memory_uss_bytes"))
        let rss = try #require(value("memd_user_memory_rss_bytes"))
        #expect(uss <= pss && pss <= rss && uss > 0)
        #expect(!response.text.contains("pid="))
        #expect(try promtoolFindings(response.body) == [])
        if let smem = which("smem") {
            let out = try runProgram(smem, ["-u", "-H", "-c", "user pss"]).output
            let rows = out.split(separator: "\n").map { $0.split(separator: " ") }
            let row = rows.first { $0.first.map(String.init) == me }
            let smemPSS = try #require(row.flatMap { Double($0[1]) }) * 1024
            #expect(abs(pss - smemPSS) < max(0.25 * smemPSS, 64 * 1_048_576.0), "memd \(pss), smem -u \(smemPSS)")
        }
    }

    @Test func openMetricsWhenAsked() throws {
        let memd = try MetricsMemd()
        let response = try HTTPExchange.get(
            port: memd.port,
            path: "/metrics?ignored=1",
            headers: ["Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"]
        )
        #expect(response.status == 200)
        #expect(response.header("Content-Type") == "application/openmetrics-text; version=1.0.0; charset=utf-8")
        #expect(response.text.hasSuffix("\n# EOF\n"))
        #expect(response.text.contains("# TYPE node_vmstat_pgfault unknown\n"))
    }

    @Test func otherPathsAndMethods() throws {
        let memd = try MetricsMemd()
        for path in ["/", "/metrics/", "/metricsx", "/api/v1/query", "/../metrics"] {
            #expect(try HTTPExchange.get(port: memd.port, path: path).status == 404, "\(path)")
        }
        for method in ["POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"] {
            let response = try HTTPExchange.get(port: memd.port, path: "/metrics", method: method)
            #expect(response.status == 405, "\(method)")
            #expect(response.header("Allow") == "GET")
        }
        // Not HTTP at all: 400 from NIOHTTP1's error handler, and memd still answers.
        let junk = try TCPConnection(port: memd.port)
        _ = junk.send(Array("\u{1}\u{2}garbage\r\n\r\n".utf8))
        #expect(try HTTPExchange.parse(junk.receiveAll()).status == 400)
        #expect(try HTTPExchange.get(port: memd.port, path: "/metrics").status == 200)
    }

    /// Each scrape reads /proc anew: faults this test makes between two scrapes show in pgfault.
    @Test func everyScrapeReadsProcAfresh() throws {
        let memd = try MetricsMemd()
        func pgfault() throws -> Double? {
            sample("node_vmstat_pgfault", in: try HTTPExchange.get(port: memd.port, path: "/metrics").text)
        }
        let before = try #require(try pgfault())
        let pages = 2048
        let size = pages * Int(sysconf(Int32(_SC_PAGESIZE)))
        let memory = try #require(mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        defer { munmap(memory, size) }
        for page in 0..<pages { memory.storeBytes(of: 1, toByteOffset: page * size / pages, as: UInt8.self) }
        let after = try #require(try pgfault())
        #expect(after - before >= Double(pages))
    }

    /// A header sent a byte at a time, slower than the request timeout, is cut off;
    /// meanwhile the Unix socket answers meminfo.
    @Test func slowClientIsCutOff() throws {
        let memd = try MetricsMemd(["--metrics-request-timeout", "1"])
        let slow = try TCPConnection(port: memd.port)
        let header = Array("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow\r\n\r\n".utf8)
        let start = Date()
        var sent = 0
        var cut = false
        for byte in header {
            guard slow.send([byte]) else {
                cut = true
                break
            }
            sent += 1
            if sent == 3 {
                // The socket's clients are served while the slow header trickles in.
                let meminfo = try memd.client().call("meminfo", [:])
                #expect(meminfo["total"]?.intValue ?? 0 > 0)
            }
            usleep(200_000)
            if Date().timeIntervalSince(start) > 4 { break }
        }
        // memd closed it (a send failed, or a read sees the end) well before the header could finish.
        #expect(cut || slow.isClosedByPeer(within: 5))
        #expect(sent < header.count)
        #expect(Date().timeIntervalSince(start) < 10)
        #expect(try HTTPExchange.get(port: memd.port, path: "/metrics").status == 200)
    }

    /// A header far over the limit (up to 256 MiB offered) is cut off after the limit, not buffered;
    /// the Unix socket answers meanwhile and memd's RSS stays small.
    @Test func hugeHeaderIsCutOff() throws {
        let memd = try MetricsMemd()
        let big = try TCPConnection(port: memd.port)
        var offered = 0
        var accepted = true
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 64 * 1024)
        _ = big.send(Array("GET /metrics HTTP/1.1\r\nX-Big: ".utf8))
        while offered < 256 << 20 {
            guard big.send(chunk) else {
                accepted = false
                break
            }
            offered += chunk.count
        }
        #expect(!accepted, "memd took all \(offered) bytes of one header")
        // At most what the two sockets' kernel buffers hold (tcp_rmem max 32 MiB + tcp_wmem max 4 MiB).
        #expect(offered < 48 << 20, "offered \(offered) bytes")
        let meminfo = try memd.client().call("meminfo", [:])
        #expect(meminfo["total"]?.intValue ?? 0 > 0)
        let status = try readProc("/proc/\(memd.process.processIdentifier)/status")
        let rssLine = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
        let rssKiB = try #require(Int(rssLine.split(separator: " ")[1]))
        #expect(rssKiB < 64 * 1024, "memd RSS \(rssKiB) KiB after a huge header")
        #expect(try HTTPExchange.get(port: memd.port, path: "/metrics").status == 200)
    }

    /// More connections than --metrics-max-connections: the extra ones are closed at once,
    /// and a scrape works again once they are gone.
    @Test func connectionLimit() throws {
        let memd = try MetricsMemd(["--metrics-max-connections", "2"])
        let held = try (0..<2).map { _ in try TCPConnection(port: memd.port) }
        _ = held.map { $0.send(Array("G".utf8)) }
        let extra = try TCPConnection(port: memd.port)
        #expect(extra.isClosedByPeer(within: 5))
        #expect(held.count == 2)
        withExtendedLifetime(held) {}
    }

    /// memd.service's capabilities have no CAP_NET_ADMIN: a scrape must not need it (setting SO_DEBUG does).
    @Test func servesWithoutNetAdmin() throws {
        let memd = try MetricsMemd(launcher: ["/usr/bin/setpriv", "--bounding-set", "-net_admin"])
        let response = try HTTPExchange.get(port: memd.port, path: "/metrics")
        #expect(response.status == 200)
    }

    @Test func refusesABadAddress() throws {
        let process = Process()
        process.executableURL = productsDirectory.appendingPathComponent("memd")
        let socket = NSTemporaryDirectory() + "memd-bad-\(getpid()).sock"
        process.arguments = ["--socket", socket, "--metrics-listen", "9731"]
        let err = Pipe()
        process.standardError = err
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        #expect(String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).contains("HOST:PORT"))
    }
}
