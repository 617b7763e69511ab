import JSONRPC

extension FuzzTarget {
    /// A request line's params decoded by its method's descriptor, exactly as the server's
    /// method table does: typed params or an RPCError, never a trap. A method name memd does
    /// not know has its params tried against the descriptor the first byte picks, so every
    /// decoder sees every shape of params.
    static let params = FuzzTarget("params") { bytes in
        guard !bytes.isEmpty else { return }
        let requests: [Request]
        switch Message.parse(bytes.uint8, maxBatch: 100) {
        case .single(.request(let request)), .single(.notification(let request)): requests = [request]
        case .batch(let entries):
            requests = entries.compactMap {
                switch $0 {
                case .request(let request), .notification(let request): return request
                case .invalid: return nil
                }
            }
        default: return
        }
        for request in requests {
            let method = method(named: request.method) ?? methods[Int(bytes[0]) % methods.count]
            _ = try? decodeParams(method, request.params)
        }
    }

    static func decodeParams<M: MethodDescriptor>(_ method: M.Type, _ raw: Request.Params) throws(RPCError) {
        _ = try MethodTable<Void>.decode(method, raw)
    }
}
