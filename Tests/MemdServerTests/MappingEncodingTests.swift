import JSONRPC
import MemdProtocol
import ProcFS
import Testing

/// The fast array encoder of `maps` writes exactly what the per-mapping encoder builds.
@Suite struct MappingEncodingTests {
    @Test(arguments: [false, true])
    func arrayEncoderMatchesTheTree(detail: Bool) throws {
        var reader = ProcReader()
        let mappings = detail ? try reader.smaps(pid: getpid()) : try reader.maps(pid: getpid())
        var odd = Mapping(
            start: 0xffff_ffff_ff60_0000,
            end: 0xffff_ffff_ff60_1000,
            perms: "rw-s",
            offset: 0x1000,
            device: "fd:01",
            inode: 7,
            path: "/tmp/a \"quoted\"\nname\\",
            isDeleted: true
        )
        odd.detail = SmapsDetail()
        let all = mappings + [odd]
        guard case .raw(let bytes) = Mapping.jsonArray(all, detail: detail) else {
            Issue.record("not raw")
            return
        }
        let parsed = try JSONParser.parse(bytes)
        #expect(parsed == .array(all.map { $0.json(detail: detail) }))
    }
}

#if canImport(Glibc)
import Glibc
#endif
