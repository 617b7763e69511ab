import Testing

@testable import MemdWeb

/// The page compiled into memctl by the EmbedText plugin.
@Suite struct LabAssetsTests {
    let assets = LabAssets()

    @Test func thePageItsModulesAndUPlotWithItsLicenseAreCompiledIn() throws {
        for path in [
            "/", "/index.html", "/favicon.svg", "/lab.css", "/js/main.js", "/js/rpc.js",
            "/js/views/host.js", "/js/views/processes.js", "/js/views/process.js", "/js/views/translate.js",
            "/js/views/experiments.js", "/js/views/cgroups.js",
            "/vendor/uPlot/uPlot.iife.min.js", "/vendor/uPlot/uPlot.min.css", "/vendor/uPlot/LICENSE",
        ] {
            let file = try #require(assets[Substring(path)], "\(path) is not compiled in")
            #expect(file.body.readableBytes > 0)
        }
        let license = try #require(assets["/vendor/uPlot/LICENSE"])
        #expect(String(buffer: license.body).contains("MIT"))
    }

    @Test(arguments: [
        ("index.html", "text/html; charset=utf-8"), ("js/main.js", "text/javascript; charset=utf-8"),
        ("lab.css", "text/css; charset=utf-8"), ("favicon.svg", "image/svg+xml"),
        ("vendor/uPlot/LICENSE", "text/plain; charset=utf-8"),
    ])
    func contentTypes(path: String, type: String) {
        #expect(LabAssets.contentType(of: path) == type)
    }

    @Test func nothingOutsideTheTableIsServed() {
        for path in ["/../Package.swift", "/etc/passwd", "/js", "/js/", "//index.html", "/index.html?x"] {
            #expect(assets[Substring(path)] == nil, "\(path)")
        }
    }
}
