import Foundation
import MemdMetrics
import MemdProtocol
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The metrics door (limits.md §6): whoever reaches the port can neither grow memd
/// without bound nor hold every slot; a scrape from another address is always served.
/// The attackers connect from other loopback addresses (127.0.0.2 …), each a peer.
@Suite struct MetricsDoorTests {
    /// Four addresses × four connections: sixteen, every slot, within each peer's cap.
    static let attackerAddresses = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]

    /// memd's resident set, from /proc/PID/status (VmRSS, bytes).
    func residentBytes(_ pid: Int32) throws -> Int {
        for line in try readProc("/proc/\(pid)/status").split(separator: "\n") where line.hasPrefix("VmRSS:") {
            if let kB = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) { return kB * 1024 }
        }
        throw TestFailure.missing("VmRSS of \(pid)")
    }

    /// Sixteen connections, four per attacker address.
    func attackers(port: Int) throws -> [TCPConnection] {
        try Self.attackerAddresses.flatMap { address in
            try (0..<4).map { _ in try TCPConnection(port: port, source: address) }
        }
    }

    /// Bytes memd has read (/proc/PID/io `rchar`): a scrape reads /proc files, nothing
    /// else reads while memd is idle, so its growth counts the scrapes memd has done.
    func bytesRead(_ pid: Int32) throws -> Int {
        for line in try readProc("/proc/\(pid)/io").split(separator: "\n") where line.hasPrefix("rchar:") {
            if let bytes = line.split(separator: " ").last.flatMap({ Int($0) }) { return bytes }
        }
        throw TestFailure.missing("rchar of \(pid)")
    }

    /// What one scrape reads (`rchar`), from four real ones.
    func bytesReadPerScrape(_ memd: MetricsMemd) throws -> Int {
        let pid = memd.process.processIdentifier
        _ = try HTTPExchange.get(port: memd.port, path: "/metrics")
        let calibration = try bytesRead(pid)
        for _ in 0..<4 { #expect(try HTTPExchange.get(port: memd.port, path: "/metrics").status == 200) }
        return max(1, (try bytesRead(pid) - calibration) / 4)
    }

    @Test func pipeliningClientsThatNeverReadCostOneResponseEach() throws {
        let memd = try MetricsMemd()
        let pid = memd.process.processIdentifier
        let readPerScrape = try bytesReadPerScrape(memd)
        let before = try residentBytes(pid)
        // Each sends 350 requests at once (about 15 KiB: under the request size limit,
        // which counts from a request's first byte until it is answered), never reading.
        let request = Array("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        let burst = Array((0..<350).map { _ in request }.joined())
        let connections = try attackers(port: memd.port)
        let flooded = try bytesRead(pid)
        for connection in connections { #expect(connection.send(burst)) }
        var peak = before
        var scrapes: [Int] = []
        // (seconds since the flood, bytes read) every quarter second, until memd has stopped
        // scraping for the flood: no more than one scrape's reads in the last 2 s (within 9 s:
        // the request timeout, 10 s, would close the flooders anyway).
        var samples: [(seconds: Double, read: Int)] = []
        var hasStopped = false
        let start = Date()
        while !hasStopped, Date().timeIntervalSince(start) < 9 {
            usleep(250_000)
            peak = max(peak, try residentBytes(pid))
            if Date().timeIntervalSince(start) > 1, scrapes.count < 2 {
                scrapes.append((try? HTTPExchange.get(port: memd.port, path: "/metrics"))?.status ?? 0)
                continue
            }
            let now = (seconds: Date().timeIntervalSince(start), read: try bytesRead(pid))
            samples.append(now)
            if scrapes.count == 2, let earlier = samples.first(where: { now.seconds - $0.seconds <= 2 }),
                now.seconds - earlier.seconds >= 1.75
            {
                hasStopped = now.read - earlier.read <= readPerScrape
            }
        }
        peak = max(peak, try residentBytes(pid))
        let growth = peak - before
        let scrapesDone = (try bytesRead(pid) - flooded) / readPerScrape
        // One response per connection in memd (a /metrics body is tens of KiB) and NIO's
        // buffers, where answering every request queued would take 16 × 350 bodies (about
        // 250 MiB); a few more responses sit in each socket's 128 KiB send buffer, then none.
        if Sanitizer.checksResidentMemory("memd's growth, \(growth >> 20) MiB (from \(before >> 20) MiB)") {
            #expect(growth < 24 << 20, "memd grew by \(growth >> 20) MiB (from \(before >> 20) MiB)")
        }
        #expect(scrapes == [200, 200], "scrapes from 127.0.0.1 while 16 connections pipeline: \(scrapes)")
        #expect(hasStopped, "memd still scraping for clients that never read after 9 s (~\(scrapesDone) scrapes)")
        #expect(scrapesDone <= 16 * 10 + 2, "memd scraped ~\(scrapesDone) times for 16 connections that never read")
        withExtendedLifetime(connections) {}
    }

    /// Requests that arrive while a scrape is being rendered share the next render: sixteen
    /// connections asking at once cost memd a few renders, not sixteen queued one behind the
    /// other (a flood cannot queue renders ahead of Prometheus's scrape, limits.md §6).
    @Test func requestsAtOnceShareRenders() throws {
        let memd = try MetricsMemd()
        let pid = memd.process.processIdentifier
        let readPerScrape = try bytesReadPerScrape(memd)
        let connections = try attackers(port: memd.port)
        let request = Array("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        let before = try bytesRead(pid)
        for connection in connections { #expect(connection.send(request)) }
        for connection in connections { #expect((try? connection.receiveResponse().status) == 200) }
        let renders = (try bytesRead(pid) - before + readPerScrape / 2) / readPerScrape
        #expect(renders <= 4, "memd rendered \(renders) times for 16 requests sent at once")
    }

    @Test func idleKeepAliveHoldersDoNotLockOutAScrape() throws {
        let memd = try MetricsMemd()
        let connections = try attackers(port: memd.port)
        let request = Array("GET /nothing HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        // Every holder has been answered once: all sixteen slots are theirs, kept alive.
        for connection in connections {
            #expect(connection.send(request))
            #expect(try connection.receiveResponse().status == 404)
        }
        let stop = StopFlag()
        let holder = Thread {
            while !stop.isSet {
                usleep(1_000_000)
                for connection in connections where connection.send(request) { _ = try? connection.receiveResponse() }
            }
        }
        holder.start()
        defer { stop.set() }
        usleep(300_000)
        let scrape = try HTTPExchange.get(port: memd.port, path: "/metrics")
        #expect(scrape.status == 200)
        #expect(sample("node_memory_MemTotal_bytes", in: scrape.text) != nil)
    }

    /// A real Prometheus scraping every second misses no scrape while sixteen keep-alive
    /// holders from four addresses, each reconnecting as soon as it is closed, want every slot.
    @Test func prometheusGetsEveryScrapeWhileOthersHoldTheDoor() throws {
        let prometheus = try #require(which("prometheus"), "Debian's prometheus package (scripts/test installs it)")
        let memd = try MetricsMemd()
        let port = memd.port
        let stop = StopFlag()
        let request = Array("GET /nothing HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        let holders = Self.attackerAddresses.flatMap { address in
            (0..<4).map { _ in
                Thread {
                    while !stop.isSet {
                        guard let connection = try? TCPConnection(port: port, source: address, receiveTimeoutSeconds: 5)
                        else {
                            usleep(200_000)
                            continue
                        }
                        while !stop.isSet, connection.send(request), (try? connection.receiveResponse()) != nil {
                            usleep(1_000_000)
                        }
                    }
                }
            }
        }
        for holder in holders { holder.start() }
        defer { stop.set() }
        usleep(1_000_000)
        let server = try PrometheusServer(scraping: memd, executable: prometheus)
        var scrapes = 0.0
        let deadline = Date().addingTimeInterval(40)
        while scrapes < 6, Date() < deadline {
            usleep(500_000)
            scrapes = (try? server.query("count_over_time(up[1m])").first.flatMap(PrometheusServer.value)) ?? 0
        }
        #expect(scrapes >= 6, "Prometheus scraped \(scrapes) times: \(server.logText)")
        #expect(try server.query("min_over_time(up[1m])").first.flatMap(PrometheusServer.value) == 1)
    }

    /// A scrape under way is never the connection closed for newcomers while other peers churn
    /// through the slots: the door closes one of the peer holding the most (limits.md §6, "a
    /// Prometheus scraping every 15 s gets every scrape while someone else holds or floods").
    @Test func aScrapeUnderWayOutlastsOthersChurningTheSlots() throws {
        let memd = try MetricsMemd()
        let head = Array("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n".utf8)  // no blank line yet
        var open = try attackers(port: memd.port)
        for connection in open { #expect(connection.send(head)) }
        usleep(100_000)
        let scrape = try TCPConnection(port: memd.port)
        #expect(scrape.send(head))
        usleep(100_000)
        // Newcomers from the attackers' addresses, round robin: each admitted one closes another
        // connection; a peer at its cap of four is refused outright.
        for round in 0..<160 {
            let newcomer = try TCPConnection(port: memd.port, source: Self.attackerAddresses[round % 4])
            _ = newcomer.send(head)
            open.append(newcomer)
            usleep(5_000)
        }
        #expect(scrape.send(Array("\r\n".utf8)), "the scrape's connection was closed")
        #expect((try? scrape.receiveResponse().status) == 200, "the scrape under way was closed for a newcomer")
        withExtendedLifetime(open) {}
    }

    @Test func atMostFourConnectionsPerPeerAddress() throws {
        let memd = try MetricsMemd()
        let admitted = try (0..<4).map { _ in try TCPConnection(port: memd.port, source: "127.0.0.6") }
        let fifth = try TCPConnection(port: memd.port, source: "127.0.0.6")
        #expect(fifth.isClosedByPeer(within: 2), "a fifth connection from one address stays open")
        // The first four stay, and another address still gets in.
        #expect(!admitted[0].isClosedByPeer(within: 1))
        #expect(try HTTPExchange.get(port: memd.port, path: "/metrics").status == 200)
    }

    @Test func idleKeepAliveConnectionClosesAfterFiveSeconds() throws {
        let memd = try MetricsMemd()
        let connection = try TCPConnection(port: memd.port)
        #expect(connection.send(Array("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)))
        #expect(try connection.receiveResponse().status == 200)
        let answered = Date()
        #expect(!connection.isClosedByPeer(within: 4), "closed before 5 s of idleness")
        #expect(connection.isClosedByPeer(within: 3), "still open 7 s after its last response")
        #expect(Date().timeIntervalSince(answered) > 4.5)
    }
}

/// `--metrics-usage` shows every user's memory to whoever reads the port (limits.md §6).
@Suite struct PerUserSumsWarningTests {
    @Test func aNonLoopbackAddressIsWarnedAbout() throws {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("memd-usage-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // 192.0.2.1 (TEST-NET-1) is no address of this host: memd warns, then cannot bind
        // and stops (its socket service too: one still running after 30 s fails the test).
        let (status, output) = try runProgram(
            productsDirectory.appendingPathComponent("memd").path,
            [
                "--socket", directory.appendingPathComponent("memd.sock").path, "--log-level", "warning",
                "--metrics-listen", "192.0.2.1:9731", "--metrics-usage",
            ],
            timeoutSeconds: 30
        )
        #expect(status != 0)
        #expect(output.contains("--metrics-usage shows every user's memory"), "\(output)")
    }

    @Test(arguments: [
        ("127.0.0.1", true), ("127.1.2.3", true), ("localhost", true), ("::1", true), ("::ffff:127.0.0.1", true),
        ("0.0.0.0", false), ("::", false), ("192.0.2.1", false), ("example.org", false), ("127.0.0.256", false),
    ])
    func loopbackIsOnlyThisHost(host: String, isLoopback: Bool) {
        #expect(ListenAddress(host: host, port: 9731).isLoopback == isLoopback)
    }
}
