/// Every line of one mapping's /proc/PID/smaps, as the kernel names it (fs/proc/task_mmu.c,
/// show_smap and __show_smap): what `pmap -X` and `-XX` print. Read only when asked for
/// (``MapsParser/Reading/smapsFields``): the `detail` figures are ``SmapsDetail``.
public struct SmapsFields: Sendable, Equatable {
    /// One `Key: N kB` or `Key: N` line.
    public struct Field: Sendable, Equatable {
        /// As smaps spells it: `Rss`, `Pss_Dirty`, `THPeligible`, …
        public var key: String
        /// A `kB` line in bytes; a line without a unit (`THPeligible`, `ProtectionKey`) as its number.
        public var value: Int
        /// Whether the line was in kB (and `value` is bytes).
        public var isBytes: Bool

        public init(key: String, value: Int, isBytes: Bool) {
            (self.key, self.value, self.isBytes) = (key, value, isBytes)
        }

        /// The number smaps printed: kB for a `kB` line.
        public var printed: Int { isBytes ? value / 1024 : value }
    }

    /// In the kernel's order.
    public var fields: [Field] = []
    /// The two-letter `VmFlags` (`rd`, `wr`, `mr`, …) in the kernel's order; nil where the kernel
    /// has no VmFlags line (before Linux 3.8).
    public var vmFlags: [String]?

    public init(fields: [Field] = [], vmFlags: [String]? = nil) {
        (self.fields, self.vmFlags) = (fields, vmFlags)
    }

    static let vmFlagsKey = Array("VmFlags".utf8)

    /// Adds one line after a mapping's header: `Key: N kB`, `Key: N` or `VmFlags: rd …`; any
    /// other line is left out.
    mutating func add(_ line: Slice<UnsafeBufferPointer<UInt8>>) {
        let text = UnsafeBufferPointer(rebasing: line)
        guard let colon = ByteScanner.find(UInt8(ascii: ":"), in: text, from: 0) else { return }
        let key = text[..<colon]
        var value = ByteScanner(UnsafeBufferPointer(rebasing: text[(colon + 1)...]))
        if key.elementsEqual(Self.vmFlagsKey) {
            var flags: [String] = []
            while true {
                value.skipSpaces()
                let flag = value.word()
                guard !flag.isEmpty else { break }
                flags.append(String(flag))
            }
            vmFlags = flags
            return
        }
        guard let number = value.unsignedDecimal() else { return }
        value.skipSpaces()
        let isBytes = value.hasPrefix("kB")
        // A kB figure beyond an exbibyte is none (the rule of every kB line, ``ByteScanner/kibibytes()``).
        guard !isBytes || number <= ByteScanner.maxKibibytes else { return }
        fields.append(Field(key: String(key), value: isBytes ? number * 1024 : number, isBytes: isBytes))
    }
}
