import ArgumentParser
import MemdProtocol
import ProcFS

/// `memctl sar -r [ALL]|-B [interval [count]]`: sar's memory and paging reports, row for row.
struct SarCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sar",
        abstract: "Memory (-r, -r ALL) or paging (-B) statistics, like sar, sampled by memd.",
        discussion: """
            As sar: the banner at once, then a row after each interval (the header stamped with the time \
            the run began), and on the last row or Ctrl-C the Average: row. -B's rates are sar's: each \
            counter's change over the interval in hundredths of a second (as /proc/uptime counts), so one \
            second gives whole numbers.

            Deliberate differences: kbmemused is MemTotal - MemAvailable and %memused its share, as \
            sysstat 12.7.9 and later compute it (memory the kernel could not hand out without swapping); \
            sysstat 12.6 (Debian bookworm's) printed MemTotal - MemFree - Buffers - Cached - Slab, which \
            counts unreclaimable cache as free. --sysstat-12.6 prints that formula, and sums pgsteal_* and \
            pgscan_kswapd*/pgscan_direct* as 12.6 read /proc/vmstat. With no interval, one row of now \
            (-r) or of the next second (-B), where sar would read its daily file.
            """
    )

    @OptionGroup var global: GlobalOptions
    @Flag(name: .short, help: "Memory utilisation (sar -r), in kB like sar; -r ALL adds five columns.") var r = false
    @Flag(name: .customShort("B"), help: "Paging statistics (sar -B).") var paging = false
    @Flag(
        name: .customLong("sysstat-12.6"),
        help: "kbmemused, %memused and -B's reclaim as sysstat 12.6 computes them."
    )
    var sysstat126 = false
    @Argument(help: "[ALL] (after -r), then seconds between samples, then the number of samples.")
    var words: [String] = []

    /// The run `words` asks for: all columns or not, the interval, the number of rows.
    struct Plan {
        var all = false
        var interval: Int?
        var count: Int?
    }

    func plan() throws -> Plan {
        var plan = Plan()
        var rest = words[...]
        if rest.first == "ALL" {
            guard r else { throw ValidationError("ALL goes with -r (sar -r ALL), not with -B") }
            plan.all = true
            rest = rest.dropFirst()
        }
        if let word = rest.popFirst() {
            guard let seconds = Int(word), seconds >= 1, seconds <= 86_400 * 366 else {
                throw ValidationError("the interval must be a whole number of seconds from 1, not '\(word)'")
            }
            plan.interval = seconds
        }
        if let word = rest.popFirst() {
            guard let rows = Int(word), rows >= 1 else {
                throw ValidationError("the count must be a whole number of rows from 1, not '\(word)'")
            }
            plan.count = rows
        }
        if let word = rest.first { throw ValidationError("unexpected '\(word)': sar -r [ALL] [interval [count]]") }
        return plan
    }

    func validate() throws {
        guard r != paging else { throw ValidationError("give exactly one of -r or -B") }
        _ = try plan()
    }

    func run() throws {
        let plan = try plan()
        let formula: SarView.Formula = sysstat126 ? .sysstat126 : .available
        try global.session { client in
            print(SarView.banner() + "\n")
            fflush(nil)
            SarClock.catchInterrupt()
            if r {
                try memory(client, plan: plan, formula: formula)
            } else {
                try pagingRows(client, plan: plan, formula: formula)
            }
        }
    }

    func memory(_ client: MemdClient, plan: Plan, formula: SarView.Formula) throws {
        let columns = SarView.memoryColumns + (plan.all ? SarView.memoryAllColumns : [])
        let clock = SarClock()
        var rows: [SarView.MemoryKB] = []
        guard let interval = plan.interval else {
            print(SarView.header(columns, at: Format.clock()))
            let row = SarView.MemoryKB(try client.call(MeminfoMethod.self, .init()))
            print(SarView.memoryRow(row, formula: formula, all: plan.all, at: Format.clock()))
            return
        }
        let start = Format.clock()
        for index in 1...(plan.count ?? Int.max) {
            guard clock.sleep(until: index, interval: interval) else { break }
            let row = SarView.MemoryKB(try client.call(MeminfoMethod.self, .init()))
            if index == 1 { print(SarView.header(columns, at: start)) }
            print(SarView.memoryRow(row, formula: formula, all: plan.all, at: Format.clock()))
            fflush(nil)
            rows.append(row)
        }
        SarClock.skipInterruptLine()
        if !rows.isEmpty { print(SarView.memoryAverage(rows, formula: formula, all: plan.all)) }
    }

    func pagingRows(_ client: MemdClient, plan: Plan, formula: SarView.Formula) throws {
        func sample() throws -> SarView.PagingSample {
            let result = try client.call(PageStatsMethod.self, .init())
            guard case .system(let system) = result else { throw ExitCode(1) }
            return SarView.PagingSample(system, formula: formula, centiseconds: SarClock.uptimeCentiseconds())
        }
        let first = try sample()
        let clock = SarClock()  // the intervals count from the first sample, as sar's alarms do
        let start = Format.clock()
        var previous = first
        var rows = 0
        for index in 1...(plan.count ?? (plan.interval == nil ? 1 : Int.max)) {
            guard clock.sleep(until: index, interval: plan.interval ?? 1) else { break }
            let current = try sample()
            if index == 1 { print(SarView.header(SarView.pagingColumns, at: start)) }
            print(SarView.pagingRow(from: previous, to: current, at: Format.clock()))
            fflush(nil)
            previous = current
            rows += 1
        }
        SarClock.skipInterruptLine()
        if plan.interval != nil, rows > 0 { print(SarView.pagingRow(from: first, to: previous, at: "Average:")) }
    }
}

/// When sar's rows fall due: at the start plus whole intervals (no drift), and Ctrl-C ends the run
/// early with its Average: row, as sar's SIGINT handler does.
struct SarClock {
    let start: timespec

    init() {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        start = now
    }

    nonisolated(unsafe) static var interrupted: sig_atomic_t = 0

    static func catchInterrupt() {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in SarClock.interrupted = 1 }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0  // no SA_RESTART: the sleep returns at once
        sigaction(SIGINT, &action, nil)
        var interrupt = sigset_t()
        sigemptyset(&interrupt)
        sigaddset(&interrupt, SIGINT)
        sigprocmask(SIG_UNBLOCK, &interrupt, nil)  // whatever mask memctl was started with
    }

    /// After Ctrl-C, sar's int_handler prints a newline ("Skip ^C displayed on screen"): so here.
    static func skipInterruptLine() {
        if interrupted != 0 { print("") }
    }

    /// Sleeps until `index` intervals after the start; false if Ctrl-C came first.
    ///
    /// nanosleep for what is left, not clock_nanosleep to the deadline: ThreadSanitizer intercepts
    /// only nanosleep, and runs a signal handler that comes during a call it does not intercept only
    /// at the next one it does (under TSan, Ctrl-C ended the run a row late).
    func sleep(until index: Int, interval: Int) -> Bool {
        let (seconds, overflow) = interval.multipliedReportingOverflow(by: index)
        let deadline = start.tv_sec + (overflow ? Int.max / 2 : seconds)
        while SarClock.interrupted == 0 {
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            var left = timespec(tv_sec: deadline - now.tv_sec, tv_nsec: start.tv_nsec - now.tv_nsec)
            if left.tv_nsec < 0 {
                left.tv_sec -= 1
                left.tv_nsec += 1_000_000_000
            }
            if left.tv_sec < 0 { return true }
            if nanosleep(&left, nil) != 0, errno != EINTR { return false }
        }
        return false
    }

    /// The time since boot in hundredths of a second, truncated as /proc/uptime prints it: sar's
    /// interval unit (CLOCK_BOOTTIME is what /proc/uptime reads).
    static func uptimeCentiseconds() -> Int {
        var now = timespec()
        clock_gettime(CLOCK_BOOTTIME, &now)
        return now.tv_sec * 100 + now.tv_nsec / 10_000_000
    }
}

/// sar's layout (sysstat 12's C locale): the time in `%-11s`, then `" %9s"` per figure: kB as
/// integers (`%9llu`), rates and percentages `%9.2f`, averaged kB `%9.0f`. Formulas from
/// sysstat's pr_stats.c (stub_print_memory_stats, print_paging_stats).
enum SarView {
    static let memoryColumns = [
        "kbmemfree", "kbavail", "kbmemused", "%memused", "kbbuffers", "kbcached", "kbcommit", "%commit", "kbactive",
        "kbinact", "kbdirty",
    ]
    static let memoryAllColumns = ["kbanonpg", "kbslab", "kbkstack", "kbpgtbl", "kbvmused"]
    static let pagingColumns = [
        "pgpgin/s", "pgpgout/s", "fault/s", "majflt/s", "pgfree/s", "pgscank/s", "pgscand/s", "pgsteal/s", "%vmeff",
    ]

    /// How kbmemused is computed.
    enum Formula {
        /// MemTotal − MemAvailable (sysstat 12.7.9 and later; memd's `sar.memUsed`).
        case available
        /// MemTotal − MemFree − Buffers − Cached − Slab (sysstat 12.6 and before).
        case sysstat126
    }

    /// sar's first line: `Linux RELEASE (NODE) \tMM/DD/YY \t_MACHINE_\t(N CPU)`.
    static func banner() -> String {
        var names = utsname()
        uname(&names)
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
        }
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let date = "\(two(parts.tm_mon + 1))/\(two(parts.tm_mday))/\(two(parts.tm_year % 100))"
        let cpus = sysconf(Int32(_SC_NPROCESSORS_CONF))
        return "\(field(names.sysname)) \(field(names.release)) (\(field(names.nodename))) \t\(date) "
            + "\t_\(field(names.machine))_\t(\(cpus) CPU)"
    }

    static func line(_ label: String, _ cells: [String]) -> String {
        Format.pad(label, 11, right: false) + cells.map { " " + Format.pad($0, 9) }.joined()
    }

    static func header(_ columns: [String], at time: String) -> String { line(time, columns) }

    static func fixed(_ value: Double, _ digits: Int) -> String { Format.cFormat("%.\(digits)f", value) }

    /// One /proc/meminfo sample in kB, the unit sar reads and prints.
    struct MemoryKB {
        var total, free, available, buffers, cached, commit, swapTotal, active, inactive, dirty: Int
        var anonPages, slab, kernelStack, pageTables, vmallocUsed: Int

        init(_ info: MeminfoResult) {
            let s = info.sar
            (total, free, available, buffers, cached, commit, swapTotal) = (
                info.free.total / 1024, s.memFree / 1024, s.available / 1024, s.buffers / 1024, s.cached / 1024,
                s.commit / 1024, info.free.swapTotal / 1024
            )
            (active, inactive, dirty) = (s.active / 1024, s.inactive / 1024, s.dirty / 1024)
            (anonPages, slab, kernelStack, pageTables, vmallocUsed) = (
                s.anonPages / 1024, s.slab / 1024, s.kernelStack / 1024, s.pageTables / 1024, s.vmallocUsed / 1024
            )
        }

        /// What kbmemused leaves out, as `formula` counts it (clamped to MemTotal as sar does).
        func unused(_ formula: Formula) -> Int {
            switch formula {
            case .available: return available
            case .sysstat126: return min(free + buffers + cached + slab, total)
            }
        }
    }

    static func memoryRow(_ m: MemoryKB, formula: Formula, all: Bool, at time: String) -> String {
        let unused = m.unused(formula)
        var cells = ["\(m.free)", "\(m.available)", "\(m.total - unused)"]
        cells.append(fixed(m.total > 0 ? Double(m.total - unused) / Double(m.total) * 100 : 0, 2))
        cells += ["\(m.buffers)", "\(m.cached)", "\(m.commit)"]
        let commitBase = m.total + m.swapTotal
        cells.append(fixed(commitBase > 0 ? Double(m.commit) / Double(commitBase) * 100 : 0, 2))
        cells += ["\(m.active)", "\(m.inactive)", "\(m.dirty)"]
        if all { cells += [m.anonPages, m.slab, m.kernelStack, m.pageTables, m.vmallocUsed].map { "\($0)" } }
        return line(time, cells)
    }

    /// sar's Average: row: each kB figure's mean (`%9.0f` of a double), kbmemused against the last
    /// MemTotal, and the percentages of the means truncated to whole kB first (sar divides integers).
    static func memoryAverage(_ rows: [MemoryKB], formula: Formula, all: Bool) -> String {
        guard let last = rows.last else { return "" }
        let count = rows.count
        func sum(_ figure: (MemoryKB) -> Int) -> Int { rows.reduce(0) { $0 + figure($1) } }
        func mean(_ figure: (MemoryKB) -> Int) -> String { fixed(Double(sum(figure)) / Double(count), 0) }
        let unused = sum { $0.unused(formula) }
        var cells = [mean(\.free), mean(\.available), fixed(Double(last.total) - Double(unused) / Double(count), 0)]
        cells.append(fixed(last.total > 0 ? Double(last.total - unused / count) / Double(last.total) * 100 : 0, 2))
        cells += [mean(\.buffers), mean(\.cached), mean(\.commit)]
        let commitBase = last.total + last.swapTotal
        cells.append(fixed(commitBase > 0 ? Double(sum(\.commit) / count) / Double(commitBase) * 100 : 0, 2))
        cells += [mean(\.active), mean(\.inactive), mean(\.dirty)]
        if all {
            cells += [mean(\.anonPages), mean(\.slab), mean(\.kernelStack), mean(\.pageTables), mean(\.vmallocUsed)]
        }
        return line("Average:", cells)
    }

    /// sar -B's counters at one moment, and the uptime they were read at.
    struct PagingSample {
        var pgpgin, pgpgout, pgfault, pgmajfault, pgfree, pgscank, pgscand, pgsteal: Int
        var centiseconds: Int

        init(_ system: PageStatsMethod.System, formula: Formula, centiseconds: Int) {
            let c = system.counters
            (pgpgin, pgpgout, pgfault, pgmajfault, pgfree) = (c.pgpgin, c.pgpgout, c.pgfault, c.pgmajfault, c.pgfree)
            (pgscank, pgscand, pgsteal) = (c.pgscanKswapd, c.pgscanDirect, c.pgsteal)
            if formula == .sysstat126 {
                // sysstat 12.6's read_vmstat_paging: every line starting so, summed.
                func sum(_ prefix: String) -> Int {
                    system.raw.reduce(0) { $0 &+ ($1.key.hasPrefix(prefix) ? $1.value : 0) }
                }
                (pgscank, pgscand, pgsteal) = (sum("pgscan_kswapd"), sum("pgscan_direct"), sum("pgsteal_"))
            }
            self.centiseconds = centiseconds
        }
    }

    /// S_VALUE: each counter's change per second over the interval in hundredths of a second; %vmeff
    /// the pages stolen per page scanned.
    static func pagingRow(from a: PagingSample, to b: PagingSample, at time: String) -> String {
        let itv = Double(max(b.centiseconds - a.centiseconds, 1))
        func rate(_ figure: (PagingSample) -> Int) -> String { fixed(Double(figure(b) &- figure(a)) / itv * 100, 2) }
        let scanned = (b.pgscank &- a.pgscank) &+ (b.pgscand &- a.pgscand)
        let vmeff = scanned != 0 ? Double(b.pgsteal &- a.pgsteal) / Double(scanned) * 100 : 0
        return line(
            time,
            [
                rate(\.pgpgin), rate(\.pgpgout), rate(\.pgfault), rate(\.pgmajfault), rate(\.pgfree), rate(\.pgscank),
                rate(\.pgscand), rate(\.pgsteal), fixed(vmeff, 2),
            ]
        )
    }
}

#if canImport(Glibc)
import Glibc
#endif
