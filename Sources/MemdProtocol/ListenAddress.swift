/// Where an HTTP listener binds: memd's metrics (`--metrics-listen HOST:PORT`)
/// and `memctl web`'s lab (`--listen HOST:PORT`).
///
/// `127.0.0.1:9731`, `localhost:9731`, `[::1]:9731` (an IPv6 literal in
/// brackets, as in a URL). Port 0 binds any free port (memd logs which).
/// Both bind exactly where they are told: anything but a loopback address opens
/// the figures to the network, so give one only when that is meant.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Why the address was not understood.
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public init(parsing text: String) throws(ParseError) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw ParseError(description: "expected [IPv6]:PORT, got '\(text)'")
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw ParseError(description: "expected HOST:PORT, got '\(text)'")
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            guard !host.contains(":") else {
                throw ParseError(description: "an IPv6 address goes in brackets: [\(host)]:\(portText)")
            }
        }
        guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "/" }) else {
            throw ParseError(description: "no host in '\(text)' (e.g. 127.0.0.1:9731)")
        }
        // Int(_:) answers nil for digits that overflow: no trap on a hostile value.
        guard portText.allSatisfy(\.isASCII), let port = Int(portText), (0...65535).contains(port) else {
            throw ParseError(description: "port must be 0...65535, got '\(portText)'")
        }
        self.host = String(host)
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
