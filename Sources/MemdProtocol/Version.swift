/// memd's version: the one place that sets it. `memd --version`, `memctl --version`,
/// `memd_build_info` and the package (scripts/package asks `memd --version`) read it here;
/// openrpc.json's `info.version` (what `rpc.discover` serves) must say the same, which
/// ServiceTests checks.
public enum MemdVersion {
    public static let current = "1.0.0"
}
