import Testing

@testable import MemdWeb

/// The gate's rules from web.md §1, one request head at a time.
@Suite struct LabGateTests {
    static let token = LabToken(text: "0123456789abcdef0123456789abcdef")
    let gate = LabGate(token: token, hosts: ["127.0.0.1:8731", "localhost:8731"], port: 8731)

    func request(
        _ method: String = "GET",
        _ uri: String = "/",
        host: String? = "127.0.0.1:8731",
        _ headers: [(String, String)] = []
    ) -> LabGate.Request {
        var all = headers
        if let host { all.append(("Host", host)) }
        return LabGate.Request(method: method, uri: uri, headers: all.map { (name: $0.0, value: $0.1) })
    }

    var cookie: (String, String) { ("Cookie", "other=1; memd-lab-8731=\(Self.token.text)") }

    @Test func tokensAreNewEachRunAnd128Bits() {
        let one = LabToken()
        let two = LabToken()
        #expect(one != two)
        #expect(one.text.count == 32)
        #expect(one.text.allSatisfy { $0.isHexDigit })
        #expect(!"\(one)".contains(one.text))
    }

    @Test(arguments: ["", "0123456789abcdef0123456789abcde", "0123456789abcdef0123456789abcdef0", "x"])
    func aTokenThatIsNotExactlyTheTokenDoesNotMatch(_ candidate: String) {
        #expect(!Self.token.matches(candidate))
    }

    @Test func noTokenIsRefused() {
        guard case .refused(403, _) = gate.check(request()) else {
            Issue.record("a request without the token was served")
            return
        }
    }

    @Test func theQueryTokenSetsTheCookieAndDropsTheQuery() {
        let verdict = gate.check(request("GET", "/?token=\(Self.token.text)"))
        #expect(verdict == .setCookie(location: "/"))
        #expect(gate.cookie.contains("HttpOnly"))
        #expect(gate.cookie.contains("SameSite=Strict"))
    }

    @Test func aPrefixOfTheTokenIsRefused() {
        let prefix = String(Self.token.text.dropLast())
        guard case .refused(403, _) = gate.check(request("GET", "/?token=\(prefix)")) else {
            Issue.record("a prefix of the token was accepted")
            return
        }
    }

    @Test func theCookieOrABearerIsAccepted() {
        #expect(gate.check(request("GET", "/js/main.js", [cookie])) == .allowed)
        #expect(gate.check(request("GET", "/", [("Authorization", "Bearer \(Self.token.text)")])) == .allowed)
        guard case .refused(403, _) = gate.check(request("GET", "/", [("Cookie", "memd-lab-9999=\(Self.token.text)")]))
        else {
            Issue.record("another port's cookie was accepted")
            return
        }
    }

    @Test(arguments: ["evil.example:8731", "127.0.0.1:8732", "127.0.0.1", "localhost"])
    func aWrongHostIsRefused(_ host: String) {
        guard case .refused(403, _) = gate.check(request("GET", "/", host: host, [cookie])) else {
            Issue.record("Host \(host) was served")
            return
        }
    }

    @Test func twoHostHeadersAreRefused() {
        let verdict = gate.check(request("GET", "/", [cookie, ("Host", "evil.example:8731")]))
        guard case .refused(403, _) = verdict else {
            Issue.record("two Host headers were served")
            return
        }
    }

    @Test(arguments: ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"])
    func onlyGetAndHead(_ method: String) {
        guard case .refused(405, _) = gate.check(request(method, "/", [cookie])) else {
            Issue.record("\(method) was served")
            return
        }
        #expect(gate.check(request("HEAD", "/", [cookie])) == .allowed)
    }

    @Test func theWebSocketNeedsThePagesOwnOrigin() {
        let upgrade = { (origin: String?) in
            var headers = [self.cookie]
            if let origin { headers.append(("Origin", origin)) }
            return self.gate.checkUpgrade(self.request("GET", "/rpc", headers))
        }
        #expect(upgrade("http://127.0.0.1:8731") == .allowed)
        for origin in ["http://evil.example", "http://127.0.0.1:8732", "https://127.0.0.1:8731", "null", nil] {
            guard case .refused(403, _) = upgrade(origin) else {
                Issue.record("a WebSocket from \(origin ?? "no origin") was accepted")
                return
            }
        }
        let local = gate.checkUpgrade(
            request("GET", "/rpc", host: "localhost:8731", [cookie, ("Origin", "http://localhost:8731")])
        )
        #expect(local == .allowed)
    }
}
