import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Log lines for journald: stderr lines without a timestamp of their own (journald stamps each
/// line as it reads it), each beginning with its syslog priority in angle brackets, `<6>` for
/// info, which journald takes as the entry's priority (`SyslogLevelPrefix=`, on by default).
///
/// Used when `$JOURNAL_STREAM` names memd's stderr (systemd.exec(5): "device:inode" of the
/// stream journald gave the service; a stderr redirected elsewhere keeps the variable but is no
/// longer that stream, and gets `StreamLogHandler`'s timestamped lines).
public struct JournalLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    public init() {}

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let own = event.metadata { all.merge(own) { $1 } }
        let line = Self.line(level: event.level, message: "\(event.message)", metadata: all)
        let bytes = Array(line.utf8)
        // One write per line: lines from several threads never interleave.
        _ = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }

    /// `<priority>message key=value …\n`, the metadata in key order.
    static func line(level: Logger.Level, message: String, metadata: Logger.Metadata) -> String {
        var line = "<\(priority(level))>\(message)"
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            line += " \(key)=\(value)"
        }
        return line.replacingNewlines() + "\n"
    }

    /// syslog(3)'s priorities: LOG_DEBUG 7 … LOG_CRIT 2.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// Whether `journalStream` ("device:inode") names the file open on `descriptor`.
    public static func isJournal(journalStream: String?, descriptor: Int32 = STDERR_FILENO) -> Bool {
        guard let journalStream else { return false }
        let parts = journalStream.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }
}

extension String {
    /// One journal entry per line: a newline inside a message would split it.
    fileprivate func replacingNewlines() -> String {
        contains("\n") ? split(separator: "\n", omittingEmptySubsequences: false).joined(separator: " ") : self
    }
}
