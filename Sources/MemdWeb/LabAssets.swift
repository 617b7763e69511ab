import NIOCore

/// The page: the files of `Assets/`, compiled into memctl by the EmbedText
/// plugin (`assetTexts`), each with its content type. Nothing is read from disk
/// and nothing outside this table can be served.
struct LabAssets: Sendable {
    struct File: Sendable {
        let contentType: String
        let body: ByteBuffer
    }

    private let files: [String: File]

    init(texts: [String: String] = assetTexts) {
        var files: [String: File] = [:]
        for (path, text) in texts {
            files["/" + path] = File(contentType: Self.contentType(of: path), body: ByteBuffer(string: text))
        }
        files["/"] = files["/index.html"]
        self.files = files
    }

    /// The file at a request path (`/` is `index.html`).
    subscript(path: Substring) -> File? { files[String(path)] }

    /// Every path served, for the tests.
    var paths: [String] { files.keys.sorted() }

    static func contentType(of path: String) -> String {
        switch path.split(separator: ".").last {
        case "html": return "text/html; charset=utf-8"
        case "css": return "text/css; charset=utf-8"
        case "js": return "text/javascript; charset=utf-8"
        case "svg": return "image/svg+xml"
        case "json": return "application/json"
        default: return "text/plain; charset=utf-8"
        }
    }
}
