import ArgumentParser
import Logging
import MemdProtocol
import MemdServer
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// memd: the memory introspection server. Argument parsing and wiring only.
@main
struct Memd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memd",
        abstract: "Answers JSON-RPC 2.0 about this machine's memory on a Unix socket.",
        discussion: """
            The socket path is, first that applies: --socket, $MEMD_SOCKET, \
            $XDG_RUNTIME_DIR/memd.sock, /tmp/memd-<uid>.sock. Talk to it with memctl, \
            or paste a line into `socat - UNIX-CONNECT:PATH`.
            """)

    @Option(name: .long, help: "Socket path.")
    var socket: String?

    @Option(name: .long, help: "Mode of the socket file, octal (0600: owner only; 0666 lets every user connect).")
    var socketMode: String = "0600"

    @Option(name: .long, help: "Longest request line, in bytes.")
    var maxRequestBytes: Int = 1 << 20

    @Option(name: .long, help: "Most entries in one batch.")
    var maxBatch: Int = 1000

    @Option(name: .long, help: "Most connections at once.")
    var maxConnections: Int = 256

    @Option(name: .long, help: "Most calls in flight per connection (then reading pauses).")
    var maxInFlight: Int = 64

    @Option(name: .long, help: "Seconds a connection may hold a partial line with no new byte.")
    var idleTimeout: Double = 30

    @Option(name: .long, help: "Simulated machines per uid.")
    var maxMachines: Int = 16

    @Option(name: .long, help: "Host bytes for all simulated machines together (page tables, contents, cache).")
    var maxSimMemory: Int = 1 << 30

    @Option(name: .long, help: "Processes per simulated machine.")
    var maxSimProcesses: Int = 1024

    @Option(name: .long, help: "Experiments running at once.")
    var maxExperiments: Int = 2

    @Option(name: .long, help: "Seconds an experiment may run.")
    var experimentTimeout: Double = 120

    @Option(name: .long, help: "Path of the experiment helper (default: memlab beside memd).")
    var helper: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard UInt32(socketMode, radix: 8) != nil else { throw ValidationError("--socket-mode must be octal, like 0600") }
        for (name, value) in [
            ("--max-request-bytes", maxRequestBytes), ("--max-batch", maxBatch), ("--max-connections", maxConnections),
            ("--max-in-flight", maxInFlight), ("--max-machines", maxMachines), ("--max-experiments", maxExperiments),
            ("--max-sim-memory", maxSimMemory), ("--max-sim-processes", maxSimProcesses),
        ] where value < 1 {
            throw ValidationError("\(name) must be at least 1")
        }
        guard idleTimeout > 0, experimentTimeout > 0 else { throw ValidationError("timeouts must be positive") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level \(logLevel)") }
    }

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "memd")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info

        var config = ServerConfig(socketPath: SocketPath.resolve(explicit: socket))
        config.socketMode = UInt32(socketMode, radix: 8) ?? 0o600
        config.maxRequestBytes = maxRequestBytes
        config.maxBatch = maxBatch
        config.maxConnections = maxConnections
        config.maxInFlight = maxInFlight
        config.idlePartialLineSeconds = idleTimeout
        config.maxMachinesPerUID = maxMachines
        config.maxSimMemory = maxSimMemory
        config.maxSimProcesses = maxSimProcesses
        config.maxExperiments = maxExperiments
        config.experimentTimeoutSeconds = experimentTimeout
        config.helperPath = helper

        let openRPC = try OpenRPCDocument.load()
        let service = MemdService(
            config: config, methods: MethodRegistry.table(config: config, openRPC: openRPC), logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: service)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        do {
            try await group.run()
        } catch {
            logger.critical("memd cannot run: \(error)")
            throw ExitCode(1)
        }
    }
}
