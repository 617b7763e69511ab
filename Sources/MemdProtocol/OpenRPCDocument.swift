import JSONRPC

/// The OpenRPC document (Protocol/openrpc.json), compiled into memd by the
/// EmbedText build plugin, parsed once.
public enum OpenRPCDocument {
    public static func load() throws -> JSON {
        try JSONParser.parse(openRPCText)
    }
}
