import JSONRPC

#if canImport(Glibc)
import Glibc
#endif

/// A blocking client for one memd connection: one request line out, lines in
/// until the response with the same id; notifications in between go to `onNotification`.
/// memctl and the tests use it; it needs nothing but the socket.
public final class MemdClient {
    public enum Failure: Error {
        case cannotConnect(path: String, reason: String)
        /// The server is neither root nor the client's own uid (SO_PEERCRED): it may be
        /// an impostor that bound the path first, so nothing is sent to it.
        case untrustedServer(path: String, uid: UInt32)
        case connectionLost(String)
        case server(RPCError)
        /// A result that does not have the shape of the method's `Result` (another memd version?).
        case unexpectedResult(method: String, WireDecodingError)
    }

    public let path: String
    private var fd: Int32
    private var pending: [UInt8] = []
    private var nextID = 1

    /// Connects and checks who serves the socket: root or the client's own uid
    /// (limits.md §5), else `.untrustedServer` before a byte is sent.
    public init(path: String) throws(Failure) {
        self.path = path
        fd = try Self.connectedSocket(path: path)
    }

    /// A socket connected to the server at `path` once it is known to be root's or
    /// the caller's (memctl web hands it to its event loop); the caller closes it.
    public static func connectedSocket(path: String) throws(Failure) -> Int32 {
        let fd: Int32
        do {
            fd = try UnixSocket.connect(path)
        } catch {
            throw .cannotConnect(path: path, reason: error.reason)
        }
        let server: UInt32
        do {
            server = try UnixSocket.peerUID(fd)
        } catch {
            close(fd)
            throw .cannotConnect(path: path, reason: error.reason)
        }
        guard server == 0 || server == geteuid() else {
            close(fd)
            throw .untrustedServer(path: path, uid: server)
        }
        return fd
    }

    deinit { disconnect() }

    /// Closes the connection now (memd sees the client go away).
    public func disconnect() {
        if fd >= 0 { close(fd) }
        fd = -1
    }

    /// Makes reads give up after `seconds` (a lost reply then fails instead of hanging).
    public func setReadTimeout(seconds: Int) {
        var limit = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Closes the sending side (the server sees EOF).
    public func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Calls `method` and returns its result, or throws the server's error.
    public func call(
        _ method: String,
        _ params: JSONObject = [:],
        onNotification: (String, JSON) -> Void = { _, _ in }
    )
        throws(Failure) -> JSON
    {
        let id = nextID
        nextID += 1
        var request: JSONObject = ["jsonrpc": "2.0", "id": .int(id), "method": .string(method)]
        if !params.isEmpty { request["params"] = .object(params) }
        var line = JSONWriter.encode(.object(request))
        line.append(UInt8(ascii: "\n"))
        try send(line)
        while true {
            let message = try readLine()
            guard let parsed = try? JSONParser.parse(message), case .object(let object) = parsed else {
                throw .connectionLost("memd sent a line that is not a JSON object")
            }
            if object["id"] == nil, case .string(let name)? = object["method"] {
                onNotification(name, object["params"] ?? .null)
                continue
            }
            guard object["id"] == .int(id) || object["id"] == .null else { continue }
            if let error = object["error"] {
                throw .server(RPCError.fromWire(error))
            }
            return object["result"] ?? .null
        }
    }

    /// Calls a typed method: its params encoded, its result decoded (the raw call is
    /// `call(_ method: String, …)`, for any method by name).
    public func call<M: ClientMethod>(
        _ method: M.Type,
        _ params: M.Params,
        onNotification: (String, JSON) -> Void = { _, _ in }
    ) throws(Failure) -> M.Result {
        let result = try call(M.name, M.encode(params), onNotification: onNotification)
        do {
            return try M.Result(json: result)
        } catch {
            throw .unexpectedResult(method: M.name, error)
        }
    }

    /// Calls a typed method that takes no params.
    public func call<M: ClientMethod>(_ method: M.Type) throws(Failure) -> M.Result where M.Params == Void {
        try call(M.self, ())
    }

    /// Sends raw bytes (for tests of malformed input).
    public func send(_ bytes: [UInt8]) throws(Failure) {
        var offset = 0
        while offset < bytes.count {
            // MSG_NOSIGNAL: a peer that closed gives EPIPE, not a SIGPIPE that kills the caller.
            let written = bytes.withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw .connectionLost(String(cString: strerror(errno)))
            }
            offset += written
        }
    }

    /// Reads one line (without its newline).
    public func readLine() throws(Failure) -> [UInt8] {
        var scanned = 0  // bytes of `pending` known to hold no newline: a long line is scanned once
        while true {
            if let newline = pending[scanned...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(pending[..<newline])
                pending.removeSubrange(...newline)
                return line
            }
            scanned = pending.count
            var chunk = [UInt8](repeating: 0, count: 1 << 20)
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .connectionLost(String(cString: strerror(errno)))
            }
            if count == 0 { throw .connectionLost("memd closed the connection") }
            pending.append(contentsOf: chunk[..<count])
        }
    }
}

extension MemdClient.Failure: CustomStringConvertible {
    public var description: String {
        switch self {
        case .cannotConnect(let path, let reason): return "cannot connect to memd at \(path): \(reason)"
        case .untrustedServer(let path, let uid): return "the server at \(path) runs as uid \(uid), not root or you"
        case .connectionLost(let reason): return reason
        case .server(let error): return "error \(error.code.rawValue) \(error.kind): \(error.message)"
        case .unexpectedResult(let method, let error):
            return "memd's \(method) result is not what this client reads: \(error)"
        }
    }
}

extension RPCError {
    /// An error object as it came over the wire.
    public static func fromWire(_ json: JSON) -> RPCError {
        let code = json["code"]?.intValue ?? -32603
        var data = json["data"]?.objectValue ?? [:]
        let kind = data["kind"]?.stringValue ?? "internal"
        data["kind"] = nil
        return RPCError(Code(rawValue: code), kind: kind, json["message"]?.stringValue ?? "", data: data)
    }
}
