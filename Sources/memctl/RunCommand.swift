import ArgumentParser
import JSONRPC
import MemdProtocol

#if canImport(Glibc)
import Glibc
#endif

/// `memctl run -- COMMAND`: runs COMMAND, watched by memd from its first instruction, and reports
/// what GNU `time -v` reports (from wait4's rusage, the same figures) and what time cannot see:
/// every process of the tree with its own peaks, the tree's peak, the host's lowest available
/// memory, pressure and OOM kills. Exit status: COMMAND's own (128 + N if a signal N ended it).
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a command and report its memory like GNU time -v, and its whole process tree sampled by memd.",
        discussion: """
            memctl starts COMMAND itself (inheriting the terminal) and holds it at the start until memd's first \
            sample, so nothing it does is missed. The report goes to stderr (or --output FILE), as time -v's does.
            """
    )

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "Between samples (default 100ms).") var interval: String = "100ms"
    @Flag(name: .long, help: "Also read pss, uss and swap of every process.") var pss = false
    @Flag(name: .long, help: "The report as one JSON object.") var json = false
    @Option(name: .long, help: "Write an SVG chart of rss over time (per process and for the tree) here.")
    var plot: String?
    @Option(name: [.customShort("o"), .long], help: "Write the report to this file instead of stderr.")
    var output: String?
    @Argument(parsing: .postTerminator, help: "The command, after --.") var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("give the command after --: memctl run -- COMMAND [ARG…]") }
    }

    func run() throws {
        let intervalMs = try WatchCommand.milliseconds(interval, option: "--interval")
        var recorder = RunRecorder()
        let outcome: RunOutcome = try global.session { client in
            let child = try GatedChild(command)
            signal(SIGINT, SIG_IGN)  // the command decides what Ctrl-C does, as under time
            signal(SIGQUIT, SIG_IGN)
            let params = WatchMethod.Params(
                intervalMs: intervalMs,
                pids: [child.pid],
                children: true,
                pss: pss,
                untilExit: true
            )
            let summary: WatchMethod.Result
            do {
                summary = try WatchStream.run(client, params: params, stopOnInterrupt: false) { sample in
                    if sample["seq"] == 0 { child.release() }
                    recorder.add(sample)
                }
            } catch {
                // memd refused the watch (a limit, …): the command never ran, and does not now.
                // Lost after it began: the command runs on unwatched, and is waited for.
                if !child.isReleased { kill(child.pid, SIGKILL) }
                child.release()
                _ = child.wait()
                throw error
            }
            return RunOutcome(summary: summary, exit: child.wait())
        }
        let report =
            json
            ? JSONWriter.string(outcome.json(command: command)) : outcome.text(command: command, intervalMs: intervalMs)
        if let output {
            guard Self.write(report + "\n", to: output) else {
                standardError("memctl: cannot write \(output): \(String(cString: strerror(errno)))")
                throw ExitCode(1)
            }
        } else {
            standardError(report)
        }
        if let plot {
            let chart = recorder.plot(title: command.joined(separator: " "), summary: outcome.summary)
            guard Self.write(chart.svg(), to: plot) else {
                standardError("memctl: cannot write \(plot): \(String(cString: strerror(errno)))")
                throw ExitCode(1)
            }
        }
        throw ExitCode(outcome.exit.status)
    }

    static func write(_ text: String, to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += written
        }
        return true
    }
}

/// COMMAND started by memctl, held before exec until `release()`: `/bin/sh -c 'read _ <&3; exec
/// "$@"'` waits on a pipe, so memd can follow the pid before COMMAND runs (the pid stays the same
/// across exec). posix_spawn, not fork: nothing of memctl runs in the child.
final class GatedChild {
    let pid: pid_t
    private var gate: Int32

    init(_ command: [String]) throws {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw Self.failure("pipe") }
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        // Keep the read end off fd 3 itself (dup2 onto itself would leave close-on-exec set).
        let readEnd = fcntl(fds[0], F_DUPFD_CLOEXEC, 10)
        close(fds[0])
        gate = fds[1]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, readEnd, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGQUIT, SIGTERM, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let arguments = ["/bin/sh", "-c", "read _ <&3; exec \"$@\" 3<&-", "memctl-run"] + command
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, "/bin/sh", &actions, &attributes, &argv, environ)
        close(readEnd)
        guard rc == 0 else {
            close(gate)
            errno = rc
            throw Self.failure("posix_spawn /bin/sh")
        }
        pid = child
    }

    /// Lets the command run (closing the pipe ends the shell's `read`).
    func release() {
        if gate >= 0 { close(gate) }
        gate = -1
    }

    var isReleased: Bool { gate < 0 }

    /// Reaps the command: its exit status as a shell reports it, and its rusage.
    func wait() -> ChildExit {
        var status: Int32 = 0
        var usage = rusage()
        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        while wait4(pid, &status, 0, &usage) < 0, errno == EINTR {}
        let exited = status & 0x7f == 0
        let code = exited ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return ChildExit(status: code, signal: exited ? nil : Int(status & 0x7f), usage: usage)
    }

    static func failure(_ what: String) -> ValidationError {
        ValidationError("memctl run: \(what) failed: \(String(cString: strerror(errno)))")
    }
}

struct ChildExit {
    var status: Int32
    var signal: Int?
    var usage: rusage
}

/// The samples of a run, kept for the plot.
struct RunRecorder {
    private var series: [Int: RssPlot.Series] = [:]
    private var order: [Int] = []
    private var tree: [(ms: Int, bytes: Int)] = []

    mutating func add(_ sample: JSON) {
        let ms = Format.int(sample["elapsedMs"])
        let processes = sample["processes"]?.arrayValue ?? []
        var sum = 0
        for row in processes {
            let pid = Format.int(row["pid"])
            let rss = Format.int(row["rss"])
            sum += rss
            if series[pid] == nil {
                series[pid] = RssPlot.Series(pid: pid, command: "")
                order.append(pid)
            }
            series[pid]?.command = row["command"]?.stringValue ?? ""
            series[pid]?.points.append((ms, rss))
        }
        tree.append((ms, sum))
    }

    func plot(title: String, summary: WatchMethod.Result) -> RssPlot {
        RssPlot(title: "rss of \(title)", processes: order.compactMap { series[$0] }, tree: tree)
    }
}

/// What a run found: memd's summary and the command's exit.
struct RunOutcome {
    var summary: WatchMethod.Result
    var exit: ChildExit

    static func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }

    func json(command: [String]) -> JSON {
        let u = exit.usage
        return [
            "command": .array(command.map { .string($0) }),
            "exitStatus": .int(Int(exit.status)), "signal": exit.signal.map { .int($0) } ?? .null,
            "rusage": [
                // ru_maxrss is KiB (getrusage(2)); bytes here, as everywhere in memd. It includes
                // memctl's own rss at the spawn (see text(command:intervalMs:)).
                "maxRss": .int(u.ru_maxrss * 1024), "userSeconds": .double(Self.seconds(u.ru_utime)),
                "systemSeconds": .double(Self.seconds(u.ru_stime)), "minflt": .int(u.ru_minflt),
                "majflt": .int(u.ru_majflt), "voluntarySwitches": .int(u.ru_nvcsw),
                "involuntarySwitches": .int(u.ru_nivcsw), "inblock": .int(u.ru_inblock), "oublock": .int(u.ru_oublock),
            ],
            "watch": summary.json,
        ]
    }

    /// time -v's lines (the ones about the command's resources), then memd's.
    func text(command: [String], intervalMs: Int) -> String {
        let u = exit.usage
        let peaks = summary.peaks
        let duration = Double(summary.durationMs) / 1000
        func kib(_ bytes: Int?) -> String { bytes.map { "\($0 / 1024)" } ?? "-" }
        // time -v's figure is ru_maxrss: the largest peak rss of the command and the children it
        // waited for. Ours from wait4 would also hold memctl's own rss (posix_spawn's child shares
        // memctl's address space until exec, and exec records it), so take the largest peak memd
        // sampled.
        let peakRss = peaks.processes.map(\.rssMax).max() ?? 0
        var lines = [
            "\tCommand being timed: \"\(command.joined(separator: " "))\"",
            "\tUser time (seconds): \(Format.fixed(Self.seconds(u.ru_utime), 2))",
            "\tSystem time (seconds): \(Format.fixed(Self.seconds(u.ru_stime), 2))",
            "\tElapsed (wall clock) time (seconds, as memd watched): \(Format.fixed(duration, 2))",
            "\tMaximum resident set size (kbytes): \(peakRss / 1024)  (memd's samples; wait4: \(u.ru_maxrss))",
            "\tMajor (requiring I/O) page faults: \(u.ru_majflt)",
            "\tMinor (reclaiming a frame) page faults: \(u.ru_minflt)",
            "\tVoluntary context switches: \(u.ru_nvcsw)",
            "\tInvoluntary context switches: \(u.ru_nivcsw)",
            "\tFile system inputs: \(u.ru_inblock)",
            "\tFile system outputs: \(u.ru_oublock)",
        ]
        if let signal = exit.signal { lines.append("\tCommand terminated by signal \(signal)") }
        lines.append("\tExit status: \(exit.status)")
        lines.append("memd, a sample every \(intervalMs) ms (\(summary.samples) samples):")
        lines.append("\tPeak resident set size of the whole tree (kbytes): \(kib(peaks.treeRssMax))")
        if let treePss = peaks.treePssMax {
            lines.append("\tPeak proportional set size of the whole tree (kbytes): \(kib(treePss))")
        }
        lines.append("\tLowest available memory on the host (kbytes): \(kib(peaks.availableMin))")
        lines.append("\tHighest used memory on the host (kbytes): \(kib(peaks.systemUsed))")
        if let some = peaks.pressureSomeAvg10Max {
            lines.append("\tHighest memory pressure (some, avg10): \(Format.fixed(some, 2))%")
        }
        lines.append("\tOOM kills on the host meanwhile: \(summary.oomKills)")
        lines.append("\tProcesses: \(peaks.processes.count)")
        lines.append(WatchView.processTable(peaks.processes))
        return lines.joined(separator: "\n")
    }
}
