#if canImport(Glibc)
import Glibc
#endif

/// The sanitizer this test run's code was built with, and how much slower that makes it: the one
/// place the tests scale their time bounds and set aside their resident-memory bounds (issue 23).
///
/// `scripts/sanitize` sets `MEMD_SANITIZER` (`thread` or `address`) and `MEMD_TEST_SLOWDOWN` (15
/// under ThreadSanitizer, 3 under AddressSanitizer: what each costs memd's calls, with room for a
/// shared machine). In a plain build both are unset: no sanitizer, a slowdown of 1, every bound as
/// written — so a test still fails there on the defect it exists for.
public enum Sanitizer {
    /// `thread`, `address`, or nil in a plain build.
    public static let name: String? = environment("MEMD_SANITIZER")

    /// How many times slower than a plain build the code runs (1 when unset or unreadable).
    public static let slowdown: Double = {
        guard let text = environment("MEMD_TEST_SLOWDOWN"), let factor = Double(text), factor >= 1 else { return 1 }
        return factor
    }()

    /// A time bound (a deadline, a read timeout, a latency bound) for this build: `seconds` ×
    /// the slowdown. Only for bounds that catch a hang or a stall, never for what a test measures.
    public static func scaled(_ seconds: Double) -> Double { seconds * slowdown }

    /// The same, in whole seconds (a socket's read timeout), rounded up.
    public static func scaled(_ seconds: Int) -> Int { Int((Double(seconds) * slowdown).rounded(.up)) }

    /// Whether a bound on resident memory (memd's, or what `memctl run` reports of a command it
    /// forked) holds in this build: yes in a plain one, where it measures glibc's malloc and the
    /// process itself. Under a sanitizer its runtime's memory is in every such figure (ASan's
    /// quarantine and redzones, TSan's shadow and per-thread caches hold what glibc would give
    /// back), so the bound is skipped, and the test says so.
    public static func checksResidentMemory(_ bound: String) -> Bool {
        guard let name else { return true }
        print("skipped under the \(name) sanitizer (its runtime's memory is in the figure): \(bound)")
        return false
    }

    /// `environment` for a process that LeakSanitizer cannot check, with its leak check off under
    /// AddressSanitizer (unchanged in any other build), and the reason printed. At exit LSan's tracer
    /// ptrace-attaches to every thread of the process; a process a test runs under strace is already
    /// traced, so each attach fails (EPERM) and LSan writes "has encountered a fatal error" instead of
    /// a result. Only for such a process: every other memd of the suite is checked.
    public static func withoutLeakCheck(_ environment: [String: String], because reason: String) -> [String: String] {
        guard name == "address" else { return environment }
        print("leak check off for one process under the address sanitizer: \(reason)")
        var changed = environment
        let options = environment["LSAN_OPTIONS", default: ""]
        changed["LSAN_OPTIONS"] = options.isEmpty ? "detect_leaks=0" : options + ":detect_leaks=0"
        return changed
    }

    private static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }
}
