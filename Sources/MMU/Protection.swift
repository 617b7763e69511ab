/// Mapping permissions (`PROT_READ | PROT_WRITE | PROT_EXEC`), written as in maps: `"rw-"`.
public struct Protection: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let read = Protection(rawValue: 1)
    public static let write = Protection(rawValue: 2)
    public static let exec = Protection(rawValue: 4)

    /// Parses `"rwx"`-style text: three characters, each the letter or `-`.
    public init?(_ text: String) {
        let chars = Array(text.utf8)
        guard chars.count == 3 else { return nil }
        var p = Protection()
        for (i, (letter, flag)) in [
            (UInt8(ascii: "r"), Protection.read), (UInt8(ascii: "w"), .write),
            (UInt8(ascii: "x"), .exec),
        ].enumerated() {
            if chars[i] == letter { p.insert(flag) } else if chars[i] != UInt8(ascii: "-") { return nil }
        }
        self = p
    }

    public var description: String {
        (contains(.read) ? "r" : "-") + (contains(.write) ? "w" : "-") + (contains(.exec) ? "x" : "-")
    }

    func allows(_ access: Access) -> Bool {
        switch access {
        case .read: return contains(.read) || contains(.write) || contains(.exec)
        case .write: return contains(.write)
        case .exec: return contains(.exec)
        }
    }
}
