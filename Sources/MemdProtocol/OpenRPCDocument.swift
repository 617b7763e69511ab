import Foundation
import JSONRPC

/// The OpenRPC document (Protocol/openrpc.json, bundled), parsed once.
public enum OpenRPCDocument {
    public static func load() throws -> JSON {
        guard let url = Bundle.module.url(forResource: "openrpc", withExtension: "json") else {
            throw RPCError.internalError("openrpc.json is not bundled with memd")
        }
        return try JSONParser.parse(Array(try Data(contentsOf: url)))
    }
}
