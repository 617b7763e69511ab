import JSONRPC

extension FuzzTarget {
    /// One request line as the server reads it: classified once (single, batch, parse
    /// error), every entry's error or id written back as the server would answer it — a
    /// notification not at all, so a batch's array holds the other members' lines only, and a
    /// batch of notifications has no line (as Dispatcher.batch; the target once joined an empty
    /// member in: `[a,,b]`, crash-notification-in-batch).
    static let envelope = FuzzTarget("envelope") { bytes in
        func answer(_ entry: Entry) -> [UInt8]? {
            switch entry {
            case .request(let request): return Response.result(id: request.id, .string(request.method))
            case .notification: return nil
            case .invalid(let id, let error): return Response.error(id: id, error)
            }
        }
        let lines: [[UInt8]]
        switch Message.parse(bytes.uint8, maxBatch: 100) {
        case .single(let entry): lines = answer(entry).map { [$0] } ?? []
        case .batch(let entries):
            precondition(entries.count <= 100, "a batch over its limit was built")
            let members = entries.compactMap(answer)
            lines = members.isEmpty ? [] : [Response.batch(members)]
        case .parseError(let error): lines = [Response.error(id: .null, error)]
        case .emptyBatch, .batchTooLarge: lines = []
        }
        for line in lines {
            // What goes back is one line of valid JSON.
            precondition(line.last == UInt8(ascii: "\n") && !line.dropLast().contains(UInt8(ascii: "\n")))
            precondition((try? JSONParser.parse(Array(line.dropLast()))) != nil, "a response line is not JSON")
        }
    }
}
