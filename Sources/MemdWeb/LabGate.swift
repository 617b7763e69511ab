/// Who may use the lab: every decision about a request, made from its head
/// alone, in one place (Jupyter's local-server rules).
///
/// - `Host` must name the listening address, or `localhost` when that is a
///   loopback one: a page of another site whose name was rebound to this
///   address (DNS rebinding) sends its own name and is refused.
/// - Only `GET` and `HEAD`: the lab changes nothing over HTTP.
/// - The token: `?token=` once (answered with a cookie), the cookie, or
///   `Authorization: Bearer`.
/// - The WebSocket at `/rpc` also needs `Origin` equal to the page's own origin
///   (browsers send Origin on every WebSocket; a page of another site cannot forge it).
public struct LabGate: Sendable {
    public let token: LabToken
    /// The `Host` values accepted, e.g. `127.0.0.1:8731` and `localhost:8731`.
    public let hosts: Set<String>
    /// The cookie that carries the token; named for the port, since browsers
    /// share cookies between the ports of one host.
    public let cookieName: String

    public init(token: LabToken, hosts: Set<String>, port: Int) {
        self.token = token
        self.hosts = hosts
        self.cookieName = "memd-lab-\(port)"
    }

    /// What a request may have.
    public enum Verdict: Equatable, Sendable {
        /// Serve it (the token came in the cookie or a bearer header).
        case allowed
        /// The token came in the query: set the cookie and send the browser to `location`
        /// (the same path without the token, so it stays out of history and bookmarks).
        case setCookie(location: String)
        case refused(status: Int, reason: String)
    }

    /// The request's fields the gate reads (lower-cased header names).
    public struct Request: Sendable {
        public var method: String
        public var uri: String
        public var headers: [(name: String, value: String)]

        public init(method: String, uri: String, headers: [(name: String, value: String)]) {
            self.method = method
            self.uri = uri
            self.headers = headers
        }

        func header(_ name: String) -> [String] {
            headers.filter { $0.name.lowercased() == name }.map(\.value)
        }

        var path: Substring { uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0] }

        var query: Substring? {
            let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
            return parts.count == 2 ? parts[1] : nil
        }
    }

    /// The verdict on an ordinary request (a page, a script, an image).
    public func check(_ request: Request) -> Verdict {
        let hostValues = request.header("host")
        guard hostValues.count == 1, hosts.contains(hostValues[0].lowercased()) else {
            return .refused(status: 403, reason: "Forbidden: this lab answers only to \(hostList)")
        }
        guard request.method == "GET" || request.method == "HEAD" else {
            return .refused(status: 405, reason: "Method not allowed: the lab answers GET and HEAD")
        }
        if let query = request.query {
            for pair in query.split(separator: "&") where pair.hasPrefix("token=") {
                guard token.matches(pair.dropFirst("token=".count)) else { break }
                return .setCookie(location: String(request.path))
            }
        }
        if hasToken(request) { return .allowed }
        return .refused(
            status: 403,
            reason: "Forbidden: open the URL memctl web printed (its ?token=…), or send Authorization: Bearer"
        )
    }

    /// The verdict on a WebSocket upgrade: an ordinary request's rules, then
    /// `/rpc`, the cookie or bearer (not the query), and the page's own `Origin`.
    public func checkUpgrade(_ request: Request) -> Verdict {
        switch check(request) {
        case .refused(let status, let reason): return .refused(status: status, reason: reason)
        case .setCookie: return .refused(status: 403, reason: "Forbidden: the WebSocket takes the cookie, not ?token=")
        case .allowed: break
        }
        guard request.path == "/rpc" else { return .refused(status: 404, reason: "Not found: the WebSocket is /rpc") }
        let origins = request.header("origin")
        guard origins.count == 1, let host = request.header("host").first,
            origins[0].lowercased() == "http://" + host.lowercased()
        else {
            return .refused(status: 403, reason: "Forbidden: a WebSocket from another origin")
        }
        return .allowed
    }

    /// The cookie to set after `?token=`: the browser sends it back only to this
    /// host's pages (SameSite=Strict) and no script can read it (HttpOnly).
    public var cookie: String { "\(cookieName)=\(token.text); Path=/; HttpOnly; SameSite=Strict" }

    private func hasToken(_ request: Request) -> Bool {
        for value in request.header("authorization") where value.hasPrefix("Bearer ") {
            if token.matches(value.dropFirst("Bearer ".count)) { return true }
        }
        for value in request.header("cookie") {
            for pair in value.split(separator: ";") {
                let trimmed = pair.drop(while: { $0 == " " })
                guard trimmed.hasPrefix(cookieName + "=") else { continue }
                if token.matches(trimmed.dropFirst(cookieName.count + 1)) { return true }
            }
        }
        return false
    }

    private var hostList: String { hosts.sorted().joined(separator: " or ") }
}
