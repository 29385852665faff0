import Foundation
import KithTestSupport
import Testing

/// The dashboard in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by
/// Playwright (`Tests/Browser/dashboard_browser.py`) against three `kith run` nodes. Approving
/// an introduction in the UI makes the friendship on both nodes; a transcript shows its badge;
/// the identity preview follows an edit; no token is 401; a cross-origin POST is refused.
/// Needs `$KITH_INTEROP_PYTHON` with playwright and /usr/bin/chromium (scripts/test.sh installs
/// both); in CI their absence is a failure. Screenshots go to `$KITH_SCREENSHOTS` (or a
/// temporary folder, printed).
@Suite("Dashboard in a browser", .serialized, .offCooperativePool)
struct DashboardBrowserTests {
    static let python = ProcessInfo.processInfo.environment["KITH_INTEROP_PYTHON"]
    static let chromium = FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium")

    @Test func theBrowserIsAvailableInCI() {
        if ProcessInfo.processInfo.environment["CI"] != nil {
            #expect(Self.python != nil && Self.chromium, "CI needs KITH_INTEROP_PYTHON (with playwright) and /usr/bin/chromium (see scripts/test.sh)")
        }
    }

    /// A node's home from `Examples/NAME.yaml` with `edits` (old → new) applied.
    static func home(_ example: String, _ edits: [(String, String)]) throws -> String {
        let dir = try Fixtures.temporaryDirectory("kith-browser-\(example)")
        var yaml = try String(contentsOf: Fixtures.repoFile("Examples/\(example).yaml"), encoding: .utf8)
        for (old, new) in edits {
            guard yaml.contains(old) else { throw NodeProcessError(message: "\(example).yaml has no \(old)") }
            yaml = yaml.replacingOccurrences(of: old, with: new)
        }
        let file = dir.appendingPathComponent("\(example).yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        let home = dir.appendingPathComponent("home").path
        let made = try CLI.run(["init", "--home", home, "--from", file.path])
        guard made.status == 0 else { throw NodeProcessError(message: "init \(example): \(made.stderr)") }
        return home
    }

    @Test(.enabled(if: python != nil && chromium)) func peopleApproveReadAndEditInTheirBrowsers() throws {
        let ada = try NodeProcess(example: "ada", home: Self.home("ada", [("min_match: 0.6", "min_match: 0.3"), ("converse: fof", "converse: anyone")]),
                                  extraArguments: ["--dashboard", "127.0.0.1:0"])
        defer { ada.stop() }
        // Ben's name is peer-written HTML: Ada's and Cleo's pages must show it as text.
        let ben = try NodeProcess(example: "ben", home: Self.home("ben", [("name: Ben", #"name: "Ben <img src=x onerror=window.pwned=1>""#)]),
                                  extraArguments: ["--dashboard", "127.0.0.1:0"])
        defer { ben.stop() }
        let cleo = try NodeProcess(example: "cleo", home: Self.home("cleo", [("converse: fof", "converse: anyone")]),
                                   extraArguments: ["--dashboard", "127.0.0.1:0"])
        defer { cleo.stop() }
        // Each node: the sign-in address `kith dashboard` prints (for the browser) and the token
        // (for the script's own API calls, as any local program that reads the home may).
        let urls = try [ada, ben, cleo].flatMap { node in
            [try CLI.run(["dashboard", "--home", node.home, "--no-open"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines),
             try String(contentsOfFile: node.home + "/dashboard.token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)]
        }
        let shots = try ProcessInfo.processInfo.environment["KITH_SCREENSHOTS"] ?? Fixtures.temporaryDirectory("kith-screenshots").path
        let run = try CLI.run(URL(fileURLWithPath: Self.python!),
                              [Fixtures.repoFile("Tests/Browser/dashboard_browser.py").path] + urls + ["127.0.0.1:\(cleo.port)", shots])
        print(run.stdout)
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("all browser checks passed"))
        print("screenshots: \(shots)")
        // What the browser did holds on the nodes themselves.
        let adaPeers = try CLI.run(["peers", "--home", ada.home, "--json"]).stdout
        let cleoPeers = try CLI.run(["peers", "--home", cleo.home, "--json"]).stdout
        #expect(adaPeers.contains(cleo.did) && cleoPeers.contains(ada.did))
        let yaml = try String(contentsOfFile: ada.home + "/identity.yaml", encoding: .utf8)
        #expect(yaml.contains("visibility: private"))
    }
}
