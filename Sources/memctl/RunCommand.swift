import ArgumentParser
import JSONRPC
import MemctlShims
import MemdProtocol

#if canImport(Glibc)
import Glibc
#endif

/// `memctl run -- COMMAND`: runs COMMAND and reports what GNU `time -v` reports, line for line
/// from the command's own wait4 rusage, then what time cannot see: every process of the tree with
/// its own peaks, the tree's peak, the host's lowest available memory, pressure and OOM kills.
/// Exit status: COMMAND's own (128 + N if a signal N ended it).
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a command and report its memory like GNU time -v, and its whole process tree sampled by memd.",
        discussion: """
            memctl starts COMMAND itself, with no shell between (a child forked in C that waits at a \
            pipe, then execs COMMAND), inheriting the terminal, and releases it at memd's first sample, \
            so nothing it does is missed. The report goes to stderr (or --output FILE), as time -v's \
            does: first GNU time 1.9's 23 lines in its formats (a "Command exited with non-zero \
            status N" or "Command terminated by signal N" line before them, as time prints), from \
            wait4's rusage of COMMAND and the children it waited for; the elapsed time runs from the \
            release to the end. Then memd's section: the whole tree as sampled.
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
                    if sample["seq"] == 0 {
                        child.release()
                        if let error = child.execFailure() {
                            standardError("memctl run: cannot run \(command[0]): \(String(cString: strerror(error)))")
                        }
                    }
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

/// COMMAND started by memctl itself, held before exec until `release()`: the child (memctl_spawn_gated,
/// in C) blocks on a pipe, so memd follows the pid before COMMAND's first instruction (the pid stays
/// the same across exec), and wait4 reports COMMAND's own rusage: no shell stands between.
final class GatedChild {
    let pid: pid_t
    private var gate: Int32
    private var execError: Int32
    private var started = timespec()
    /// Reaps the child the moment it ends (its own thread): the end of the elapsed time.
    private var reaper = UnsafeMutablePointer<memctl_reaper>.allocate(capacity: 1)

    init(_ command: [String]) throws {
        var gatePipe: [Int32] = [-1, -1]
        var errorPipe: [Int32] = [-1, -1]
        var rc = memctl_pipe_cloexec(&gatePipe)
        guard rc == 0 else { throw Self.failure("pipe", rc) }
        rc = memctl_pipe_cloexec(&errorPipe)
        guard rc == 0 else {
            close(gatePipe[0])
            close(gatePipe[1])
            throw Self.failure("pipe", rc)
        }
        let path = Self.search(command[0])
        var argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var child: pid_t = 0
        rc = path.withCString { memctl_spawn_gated($0, &argv, environ, gatePipe[0], gatePipe[1], errorPipe[1], &child) }
        close(gatePipe[0])
        close(errorPipe[1])
        guard rc == 0 else {
            close(gatePipe[1])
            close(errorPipe[0])
            throw Self.failure("fork", rc)
        }
        (pid, gate, execError) = (child, gatePipe[1], errorPipe[0])
        rc = memctl_reaper_start(reaper, child)
        guard rc == 0 else {
            kill(child, SIGKILL)
            var status: Int32 = 0
            waitpid(child, &status, 0)
            close(gate)
            close(execError)
            throw Self.failure("pthread_create", rc)
        }
    }

    deinit { reaper.deallocate() }

    /// Where execvp would find `name`: itself if it has a slash, else the first executable file of
    /// that name in $PATH (execvp's default path without one); the name as given if none is.
    static func search(_ name: String) -> String {
        guard !name.contains("/") else { return name }
        let path = getenv("PATH").map { String(cString: $0) } ?? "/bin:/usr/bin"
        for directory in path.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + name
            var info = stat()
            if stat(candidate, &info) == 0, info.st_mode & S_IFMT == S_IFREG, access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        return name
    }

    /// Lets the command run (closing the pipe ends the child's read); the clock starts here.
    func release() {
        guard gate >= 0 else { return }
        clock_gettime(CLOCK_MONOTONIC, &started)
        close(gate)
        gate = -1
    }

    var isReleased: Bool { gate < 0 }

    /// After `release()`: nil once COMMAND runs, or the errno of its failed exec.
    func execFailure() -> Int32? {
        guard execError >= 0 else { return nil }
        defer {
            close(execError)
            execError = -1
        }
        var error: Int32 = 0
        var got = 0
        repeat {
            got = withUnsafeMutableBytes(of: &error) { read(execError, $0.baseAddress, $0.count) }
        } while got < 0 && errno == EINTR
        return got == MemoryLayout<Int32>.size ? error : nil
    }

    /// The command's end, as its reaper saw it: wait status, rusage, the time from release to end.
    func wait() -> ChildExit {
        memctl_reaper_join(reaper)
        let ended = reaper.pointee.ended
        let nanoseconds = (ended.tv_sec - started.tv_sec) * 1_000_000_000 + (ended.tv_nsec - started.tv_nsec)
        return ChildExit(
            waitStatus: reaper.pointee.status,
            usage: reaper.pointee.usage,
            elapsedMicroseconds: max(nanoseconds, 0) / 1000
        )
    }

    static func failure(_ what: String, _ code: Int32) -> ValidationError {
        ValidationError("memctl run: \(what) failed: \(String(cString: strerror(code)))")
    }
}

/// How the command ended, as wait4 told it.
struct ChildExit {
    var waitStatus: Int32
    var usage: rusage
    var elapsedMicroseconds: Int

    /// The signal that ended it, if one did.
    var signal: Int32? { waitStatus & 0x7f == 0 ? nil : waitStatus & 0x7f }
    /// WEXITSTATUS: what time -v's "Exit status" prints (0 after a signal).
    var exitStatus: Int32 { (waitStatus >> 8) & 0xff }
    /// memctl's own exit status: the command's, or 128 + N after signal N (as time and sh do).
    var status: Int32 { signal.map { 128 + $0 } ?? exitStatus }
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
            "exitStatus": .int(Int(exit.status)), "signal": exit.signal.map { .int(Int($0)) } ?? .null,
            "elapsedSeconds": .double(Double(exit.elapsedMicroseconds) / 1e6),
            "rusage": [
                // ru_maxrss is KiB (getrusage(2)); bytes here, as everywhere in memd.
                "maxRss": .int(u.ru_maxrss * 1024), "userSeconds": .double(Self.seconds(u.ru_utime)),
                "systemSeconds": .double(Self.seconds(u.ru_stime)), "minflt": .int(u.ru_minflt),
                "majflt": .int(u.ru_majflt), "voluntarySwitches": .int(u.ru_nvcsw),
                "involuntarySwitches": .int(u.ru_nivcsw), "inblock": .int(u.ru_inblock), "oublock": .int(u.ru_oublock),
            ],
            "watch": summary.json,
        ]
    }

    /// GNU time 1.9's -v report (time.c's `longstats` and `summarize`), every line in its format,
    /// from the command's own wait4 rusage; then memd's figures of the whole tree.
    func text(command: [String], intervalMs: Int) -> String {
        TimeReport(command: command, exit: exit).lines.joined(separator: "\n") + "\n" + memdSection(intervalMs)
    }

    /// What time cannot see: the tree's peaks sampled by memd, the host, every process.
    func memdSection(_ intervalMs: Int) -> String {
        let peaks = summary.peaks
        func kib(_ bytes: Int?) -> String { bytes.map { "\($0 / 1024)" } ?? "-" }
        var lines = ["memd, a sample every \(intervalMs) ms (\(summary.samples) samples):"]
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

/// GNU time 1.9's `time -v` text for one command, to the character.
struct TimeReport {
    var command: [String]
    var exit: ChildExit

    var lines: [String] {
        let u = exit.usage
        // time.c: r, the elapsed milliseconds; v, the CPU milliseconds (each part truncated).
        let elapsedSeconds = exit.elapsedMicroseconds / 1_000_000
        let elapsedMicroseconds = exit.elapsedMicroseconds % 1_000_000
        let r = elapsedSeconds * 1000 + elapsedMicroseconds / 1000
        let v =
            u.ru_utime.tv_sec * 1000 + u.ru_utime.tv_usec / 1000 + u.ru_stime.tv_sec * 1000 + u.ru_stime.tv_usec / 1000
        let usR = elapsedMicroseconds
        let usV = u.ru_utime.tv_usec + u.ru_stime.tv_usec
        let percent = r > 0 ? "\(v * 100 / r)%" : usR > 0 ? "\(usV * 100 / usR)%" : "?%"
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let elapsed =
            elapsedSeconds >= 3600
            ? "\(elapsedSeconds / 3600):\(two(elapsedSeconds % 3600 / 60)):\(two(elapsedSeconds % 60))"
            : "\(elapsedSeconds / 60):\(two(elapsedSeconds % 60)).\(two(elapsedMicroseconds / 10000))"
        func seconds(_ t: timeval) -> String { "\(t.tv_sec).\(two(t.tv_usec / 1000 / 10))" }
        // The averages over CPU ticks of integral sizes Linux leaves at zero (getrusage(2)).
        let ticks = v / 10
        func average(_ kbTicks: Int) -> String { ticks == 0 ? "0" : "\(kbTicks / ticks)" }
        var lines: [String] = []
        if let signal = exit.signal {
            lines.append("Command terminated by signal \(signal)")
        } else if exit.exitStatus != 0 {
            lines.append("Command exited with non-zero status \(exit.exitStatus)")
        }
        lines += [
            "\tCommand being timed: \"\(command.joined(separator: " "))\"",
            "\tUser time (seconds): \(seconds(u.ru_utime))",
            "\tSystem time (seconds): \(seconds(u.ru_stime))",
            "\tPercent of CPU this job got: \(percent)",
            "\tElapsed (wall clock) time (h:mm:ss or m:ss): \(elapsed)",
            "\tAverage shared text size (kbytes): \(average(u.ru_ixrss))",
            "\tAverage unshared data size (kbytes): \(ticks == 0 ? 0 : u.ru_idrss / ticks + u.ru_isrss / ticks)",
            "\tAverage stack size (kbytes): \(average(u.ru_isrss))",
            "\tAverage total size (kbytes): \(ticks == 0 ? 0 : u.ru_idrss / ticks + u.ru_isrss / ticks + u.ru_ixrss / ticks)",
            "\tMaximum resident set size (kbytes): \(u.ru_maxrss)",
            "\tAverage resident set size (kbytes): \(average(u.ru_idrss))",
            "\tMajor (requiring I/O) page faults: \(u.ru_majflt)",
            "\tMinor (reclaiming a frame) page faults: \(u.ru_minflt)",
            "\tVoluntary context switches: \(u.ru_nvcsw)",
            "\tInvoluntary context switches: \(u.ru_nivcsw)",
            "\tSwaps: \(u.ru_nswap)",
            "\tFile system inputs: \(u.ru_inblock)",
            "\tFile system outputs: \(u.ru_oublock)",
            "\tSocket messages sent: \(u.ru_msgsnd)",
            "\tSocket messages received: \(u.ru_msgrcv)",
            "\tSignals delivered: \(u.ru_nsignals)",
            "\tPage size (bytes): \(getpagesize())",
            "\tExit status: \(exit.exitStatus)",
        ]
        return lines
    }
}
