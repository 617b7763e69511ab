import ArgumentParser
import Logging
import MemdMetrics
import MemdProtocol
import MemdServer
import ProcFS
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// Every limit's default, from the one place that decides it.
private let defaults = ServerConfig(socketPath: "")

/// memd: the memory introspection server. Argument parsing and wiring only.
@main
struct Memd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memd",
        abstract: "Answers JSON-RPC 2.0 about this machine's memory on a Unix socket.",
        discussion: """
            The socket path is, first that applies: --socket, $MEMD_SOCKET, \
            $XDG_RUNTIME_DIR/memd.sock, then /run/memd.sock for root and /tmp/memd-<uid>.sock \
            for anyone else. Talk to it with memctl, \
            or paste a line into `socat - UNIX-CONNECT:PATH`. Started by systemd (memd.socket), \
            memd serves the socket it is passed (LISTEN_FDS) instead, and tells systemd when it is \
            ready ($NOTIFY_SOCKET).
            """,
        version: MemdVersion.current
    )

    @Option(name: .long, help: "Socket path.")
    var socket: String?

    @Option(name: .long, help: "Mode of the socket file, octal (0600: owner only; 0666 lets every user connect).")
    var socketMode: String = "0600"

    @Option(name: .long, help: "Longest request line, in bytes.")
    var maxRequestBytes: Int = defaults.maxRequestBytes

    @Option(name: .long, help: "Most entries in one batch.")
    var maxBatch: Int = defaults.maxBatch

    @Option(name: .long, help: "Most connections at once.")
    var maxConnections: Int = defaults.maxConnections

    @Option(name: .long, help: "Most connections at once of one uid other than root.")
    var maxConnectionsPerUid: Int = defaults.maxConnectionsPerUID

    @Option(name: .long, help: "Longest response line, in bytes (longer: -32003 responseBytes).")
    var maxResponseBytes: Int = defaults.maxResponseBytes

    @Option(name: .long, help: "Unsent response bytes on a connection above which memd stops reading it.")
    var maxUnsentBytes: Int = defaults.maxUnsentBytes

    @Option(name: .long, help: "Most calls in flight per connection (then reading pauses).")
    var maxInFlight: Int = defaults.maxInFlight

    @Option(name: .long, help: "Seconds a connection may hold a partial line with no new byte.")
    var idleTimeout: Double = defaults.idlePartialLineSeconds

    @Option(name: .long, help: "Simulated machines per uid.")
    var maxMachines: Int = defaults.maxMachinesPerUID

    @Option(name: .long, help: "Host bytes for all simulated machines together (page tables, contents, cache).")
    var maxSimMemory: Int = defaults.maxSimMemory

    @Option(name: .long, help: "Processes per simulated machine.")
    var maxSimProcesses: Int = defaults.maxSimProcesses

    @Option(name: .long, help: "Watches running at once per uid other than root.")
    var maxWatches: Int = 16

    @Option(name: .long, help: "Experiments running at once.")
    var maxExperiments: Int = defaults.maxExperiments

    @Option(
        name: .customLong("max-experiments-per-uid"),
        help: "Experiments running at once for one uid other than root."
    )
    var maxExperimentsPerUID: Int = 1

    @Option(name: .long, help: "Seconds an experiment may run.")
    var experimentTimeout: Double = defaults.experimentTimeoutSeconds

    @Option(name: .long, help: "Path of the experiment helper (default: memlab beside memd).")
    var helper: String?

    @Option(
        name: .long,
        help: """
            Serve Prometheus metrics at http://HOST:PORT/metrics (e.g. 127.0.0.1:9731, [::1]:9731). \
            Binds exactly there: use a loopback address unless the network is meant to read them.
            """
    )
    var metricsListen: String?

    @Option(name: .long, help: "Longest HTTP request to the metrics listener (head and body), in bytes.")
    var metricsMaxRequestBytes: Int = 16 * 1024

    @Option(name: .long, help: "Seconds an HTTP request to the metrics listener may take to arrive.")
    var metricsRequestTimeout: Double = 10

    @Option(
        name: .long,
        help:
            "Most HTTP connections to the metrics listener at once (then the longest idle of the peer holding most is closed for a new one)."
    )
    var metricsMaxConnections: Int = 16

    @Option(name: .long, help: "Most HTTP connections to the metrics listener from one peer address.")
    var metricsMaxConnectionsPerPeer: Int = 4

    @Option(name: .long, help: "Seconds a keep-alive connection to the metrics listener may idle before it is closed.")
    var metricsIdleTimeout: Double = 5

    @Flag(
        name: .long,
        help: """
            Add per-user sums (PSS, USS, RSS, swap) to /metrics: reads every process's smaps_rollup, \
            and shows every user's figures to whoever reads the port (a warning is logged if it is not loopback).
            """
    )
    var metricsUsage = false

    @Option(name: .long, help: "Levels of memory cgroups below the root that /metrics reports (0: the root only).")
    var metricsCgroupDepth: Int = 3

    @Option(name: .long, help: "The memory cgroup tree for `cgroups` (default: the host's v2 or v1 memory hierarchy).")
    var cgroupRoot: String?

    @Option(name: .long, help: "Threads that run calls (their waiting work, the simulator), shared per uid.")
    var threads: Int = defaults.waitingThreads

    @Option(
        name: .customLong("max-threads-per-uid"),
        help: "Of --threads, the most that one uid's calls hold at once (the rest stay free for other uids)."
    )
    var maxThreadsPerUID: Int = defaults.maxThreadsPerUID

    @Option(name: .long, help: "Threads reading processes in parallel for `usage`.")
    var usageThreads: Int = 2

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard let mode = UInt32(socketMode, radix: 8), mode <= 0o777 else {
            throw ValidationError("--socket-mode must be octal permission bits (0000…0777), like 0600")
        }
        for (name, value) in [
            ("--max-request-bytes", maxRequestBytes), ("--max-batch", maxBatch), ("--max-connections", maxConnections),
            ("--max-connections-per-uid", maxConnectionsPerUid), ("--max-response-bytes", maxResponseBytes),
            ("--max-unsent-bytes", maxUnsentBytes),
            ("--max-in-flight", maxInFlight), ("--max-machines", maxMachines), ("--max-experiments", maxExperiments),
            ("--max-watches", maxWatches),
            ("--max-experiments-per-uid", maxExperimentsPerUID),
            ("--max-sim-memory", maxSimMemory), ("--max-sim-processes", maxSimProcesses),
        ] where value < 1 {
            throw ValidationError("\(name) must be at least 1")
        }
        guard idleTimeout > 0, experimentTimeout > 0 else { throw ValidationError("timeouts must be positive") }
        if let metricsListen {
            do { _ = try ListenAddress(parsing: metricsListen) } catch {
                throw ValidationError("--metrics-listen: \(error)")
            }
        }
        guard metricsMaxRequestBytes >= 256 else {
            throw ValidationError("--metrics-max-request-bytes must be at least 256")
        }
        guard metricsMaxConnections >= 1 else { throw ValidationError("--metrics-max-connections must be at least 1") }
        guard metricsMaxConnectionsPerPeer >= 1 else {
            throw ValidationError("--metrics-max-connections-per-peer must be at least 1")
        }
        guard metricsIdleTimeout > 0, metricsIdleTimeout <= 3600 else {
            throw ValidationError("--metrics-idle-timeout must be in (0, 3600] seconds")
        }
        guard (0...32).contains(metricsCgroupDepth) else {
            throw ValidationError("--metrics-cgroup-depth must be 0…32")
        }
        // Checked before it becomes nanoseconds: a huge value must not trap.
        guard metricsRequestTimeout > 0, metricsRequestTimeout <= 3600 else {
            throw ValidationError("--metrics-request-timeout must be in (0, 3600] seconds")
        }
        guard (1...256).contains(threads) else { throw ValidationError("--threads must be 1…256") }
        guard (1...threads).contains(maxThreadsPerUID) else {
            throw ValidationError("--max-threads-per-uid must be 1…--threads (\(threads))")
        }
        guard (1...64).contains(usageThreads) else { throw ValidationError("--usage-threads must be 1…64") }
        if let cgroupRoot, let problem = Attribution.problem(cgroupRoot: cgroupRoot) {
            throw ValidationError("--cgroup-root: \(problem)")
        }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level \(logLevel)") }
    }

    func run() async throws {
        Heap.configure()
        // Read first, while memd has one thread, and removed from the environment memlab inherits.
        let journal = JournalLogHandler.isJournal(journalStream: getenv("JOURNAL_STREAM").map { String(cString: $0) })
        let notify = SystemdNotify.take()
        let passedSocket: Result<SocketActivation?, SocketActivation.Refusal>
        do { passedSocket = .success(try SocketActivation.take()) } catch { passedSocket = .failure(error) }
        if journal {
            LoggingSystem.bootstrap { _ in JournalLogHandler() }
        } else {
            LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        }
        var logger = Logger(label: "memd")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let socketFromSystemd: SocketActivation?
        switch passedSocket {
        case .success(let passed): socketFromSystemd = passed
        case .failure(let refusal):
            logger.critical("memd cannot use the socket systemd passed: \(refusal)")
            throw ExitCode(1)
        }

        var config = ServerConfig(socketPath: SocketPath.resolve(explicit: socket))
        config.socketMode = UInt32(socketMode, radix: 8) ?? 0o600
        config.maxRequestBytes = maxRequestBytes
        config.maxBatch = maxBatch
        config.maxConnections = maxConnections
        config.maxConnectionsPerUID = maxConnectionsPerUid
        config.maxResponseBytes = maxResponseBytes
        config.maxUnsentBytes = maxUnsentBytes
        config.maxInFlight = maxInFlight
        config.idlePartialLineSeconds = idleTimeout
        config.maxMachinesPerUID = maxMachines
        config.maxSimMemory = maxSimMemory
        config.maxSimProcesses = maxSimProcesses
        config.maxExperiments = maxExperiments
        config.maxWatchesPerUID = maxWatches
        config.maxExperimentsPerUID = maxExperimentsPerUID
        config.experimentTimeoutSeconds = experimentTimeout
        config.helperPath = helper
        config.cgroupRoot = cgroupRoot
        config.usageThreads = usageThreads
        config.waitingThreads = threads
        config.maxThreadsPerUID = maxThreadsPerUID

        StartupSweep.run(logger: logger)
        let openRPC = try OpenRPCDocument.load()
        if metricsListen != nil {
            // Made before the method table, whose registries count into it; the methods it knows by
            // name are the document's (rpc.discover's test keeps the two the same).
            let names = (openRPC["methods"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
            config.health = HealthMetrics(
                version: MemdVersion.current,
                methods: names + [CancelRequestMethod.name]
            )
        }
        let methods = MethodRegistry.table(config: config, openRPC: openRPC)
        let service = MemdService(
            config: config,
            methods: methods,
            logger: logger,
            passedSocket: socketFromSystemd,
            notify: notify
        )
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: service)]
        if let metricsListen, let address = try? ListenAddress(parsing: metricsListen) {
            var options = MetricsOptions(listen: address)
            options.maxRequestBytes = metricsMaxRequestBytes
            options.requestTimeoutSeconds = metricsRequestTimeout
            options.maxConnections = metricsMaxConnections
            options.maxConnectionsPerPeer = metricsMaxConnectionsPerPeer
            options.idleTimeoutSeconds = metricsIdleTimeout
            if metricsUsage, !address.isLoopback {
                logger.warning(
                    "--metrics-usage shows every user's memory to whoever can reach the metrics port",
                    metadata: ["address": "\(address)"]
                )
            }
            // The tree `cgroups` reads: --cgroup-root, else the host's (v2, else v1's memory mount).
            let cgroups = cgroupRoot.flatMap { try? CgroupHierarchy.inspect($0).get() } ?? CgroupHierarchy.detect()
            var perUser: (@Sendable () -> [UserMemory])?
            if metricsUsage { perUser = { HostUsage.byUser() } }
            let scraper = Scraper(
                health: config.health,
                cgroups: cgroups,
                cgroupDepth: metricsCgroupDepth,
                perUserUsage: perUser
            )
            services.append(.init(service: MetricsServer(options: options, scraper: scraper, logger: logger)))
        }
        let group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do {
            try await group.run()
        } catch {
            logger.critical("memd cannot run: \(error)")
            throw ExitCode(1)
        }
    }
}
