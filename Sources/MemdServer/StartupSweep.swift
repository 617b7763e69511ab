import Experiments
import Logging

/// What memd does once at start, before it listens: remove an earlier memd's
/// leftovers (limits.md §5): `memd.<pid>.*` entries in `$TMPDIR` (else /tmp) and
/// in the places memd makes cgroups, whose pid is not a running memd.
public enum StartupSweep {
    public static func run(logger: Logger) {
        for path in Leftovers.sweepAll() {
            logger.notice("removed a leftover of an earlier memd", metadata: ["path": "\(path)"])
        }
    }
}
