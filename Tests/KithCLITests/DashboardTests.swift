import Foundation
import KithTestSupport
import Testing

/// One HTTP/1.1 exchange over a raw socket, so a test can send any Host, Origin or cookie.
struct RawHTTP {
    var status: Int
    var headers: [String: String]
    var body: String

    static func send(port: Int, _ method: String, _ path: String, headers: [String: String] = [:], body: [UInt8] = []) throws -> RawHTTP {
        let fd = try RawClient.connect(port: port)
        defer { close(fd) }
        // A server that refuses a large body stops reading it: the send gives up, the answer is read.
        var timeout = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var head = "\(method) \(path) HTTP/1.1\r\n"
        var all = ["Host": "127.0.0.1:\(port)", "Connection": "close", "Content-Length": "\(body.count)"]
        all.merge(headers) { _, new in new }
        for (k, v) in all.sorted(by: { $0.key < $1.key }) where !v.isEmpty { head += "\(k): \(v)\r\n" }
        RawClient.send(fd, Array((head + "\r\n").utf8) + body)
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = read(fd, &chunk, chunk.count)
            if n <= 0 { break }
            data += chunk[..<n]
        }
        let text = String(decoding: data, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw NodeProcessError(message: "no HTTP answer: \(text.prefix(200))") }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        var fields: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return RawHTTP(status: status, headers: fields, body: String(text[split.upperBound...]))
    }
}

/// The dashboard of a running `kith run`, attacked from the network side: no token, a wrong
/// token, another origin, another Host (DNS rebinding), a cookie without the page's Origin,
/// oversized and malformed bodies; and the commands it serves are those the OpenAPI document names.
@Suite("Dashboard API", .serialized, .offCooperativePool)
struct DashboardTests {
    struct Served {
        let node: NodeProcess
        let port: Int
        let token: String
        /// The sign-in address `kith dashboard` printed (a single-use code, never the token).
        let address: String
    }

    static func serve(_ example: String = "ada") throws -> Served {
        let node = try NodeProcess(example: example, extraArguments: ["--dashboard", "127.0.0.1:0"])
        let url = try CLI.run(["dashboard", "--home", node.home, "--no-open"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let token = try String(contentsOfFile: node.home + "/dashboard.token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let portText = url.split(separator: ":").last?.split(separator: "/").first, let port = Int(portText),
              url.hasPrefix("http://127.0.0.1:"), url.contains("/#code="), !url.contains(token)
        else { throw NodeProcessError(message: "kith dashboard printed \(url)") }
        return Served(node: node, port: port, token: token, address: url)
    }

    func api(_ s: Served, _ cmd: String, _ json: String = "{}", headers: [String: String]? = nil) throws -> RawHTTP {
        try RawHTTP.send(port: s.port, "POST", "/api/\(cmd)", headers: headers ?? ["Authorization": "Bearer \(s.token)"], body: Array(json.utf8))
    }

    @Test func everyAPICallNeedsTheTokenAndTheDashboardsOwnOriginAndHost() throws {
        let s = try Self.serve()
        defer { s.node.stop() }
        #expect(try api(s, "status").status == 200)
        // The token file is the node's secret.
        var info = stat()
        #expect(stat(s.node.home + "/dashboard.token", &info) == 0 && info.st_mode & 0o777 == 0o600)
        // No token, a wrong one, a truncated one, another scheme.
        #expect(try api(s, "status", headers: [:]).status == 401)
        #expect(try api(s, "status", headers: ["Authorization": "Bearer " + String(repeating: "A", count: 43)]).status == 401)
        #expect(try api(s, "status", headers: ["Authorization": "Bearer " + s.token.dropLast(2)]).status == 401)
        #expect(try api(s, "status", headers: ["Authorization": "Basic \(s.token)"]).status == 401)
        // Another origin, even with the token; another site's fetch metadata.
        #expect(try api(s, "status", headers: ["Authorization": "Bearer \(s.token)", "Origin": "http://evil.example"]).status == 403)
        #expect(try api(s, "status", headers: ["Authorization": "Bearer \(s.token)", "Origin": "http://127.0.0.1:1"]).status == 403)
        #expect(try api(s, "status", headers: ["Authorization": "Bearer \(s.token)", "Sec-Fetch-Site": "same-site"]).status == 403)
        // A DNS-rebinding page reaches the port under its own name: refused, page and API alike.
        #expect(try RawHTTP.send(port: s.port, "GET", "/", headers: ["Host": "evil.example:\(s.port)"]).status == 421)
        #expect(try api(s, "status", headers: ["Authorization": "Bearer \(s.token)", "Host": "evil.example"]).status == 421)
        // No cookie is a credential, even one holding the token.
        #expect(try api(s, "status", headers: ["Cookie": "kith_session=\(s.token)", "Origin": "http://127.0.0.1:\(s.port)"]).status == 401)
        #expect(try RawHTTP.send(port: s.port, "GET", "/api/events", headers: ["Cookie": "kith_session=\(s.token)"]).status == 401)
        // The sign-in code works once, within a minute; a guessed or reused one does not.
        let code = String(s.address.split(separator: "=").last ?? "")
        let first = try api(s, "sign-in", #"{"code":"\#(code)"}"#, headers: [:])
        #expect(first.status == 200 && first.body.contains(s.token))
        #expect(try api(s, "sign-in", #"{"code":"\#(code)"}"#, headers: [:]).status == 401, "a sign-in code worked twice")
        #expect(try api(s, "sign-in", #"{"code":"AAAAAAAAAAAAAAAAAAAAAA"}"#, headers: [:]).status == 401)
        #expect(try api(s, "sign-in", String(repeating: "x", count: 4096), headers: [:]).status == 413)
        // No response allows other origins, and nothing sets a cookie.
        #expect(first.headers["access-control-allow-origin"] == nil && first.headers["set-cookie"] == nil)
        let page = try RawHTTP.send(port: s.port, "GET", "/")
        #expect(page.status == 200 && page.body.contains("/app.js") && !page.body.contains("http"), "the page loads nothing from elsewhere")
        #expect(page.headers["content-security-policy"]?.contains("default-src 'none'") == true)
        #expect(page.headers["x-frame-options"] == "DENY")
    }

    @Test func hostileBodiesAreRefusedAndTheNodeKeepsServing() throws {
        let s = try Self.serve()
        defer { s.node.stop() }
        #expect(try api(s, "status", String(repeating: "x", count: 2 << 20)).status == 413)
        #expect(try api(s, "status", "{not json").status == 400)
        #expect(try api(s, "accept", "{}").body.contains("accept needs a did"))
        #expect(try api(s, "no-such-command").status == 400)
        #expect(try api(s, "accept", #"{"did": "did:key:zNOPE"}"#).status == 422)
        #expect(try api(s, "conversation", #"{"conv": "ffff"}"#).status == 422)
        #expect(try RawHTTP.send(port: s.port, "GET", "/api/export?conv=../../etc/passwd", headers: ["Authorization": "Bearer \(s.token)"]).status == 404)
        #expect(try api(s, "say", String(repeating: "x", count: 100_000)).status == 413)
        #expect(try api(s, "say", #"{"chat":"nope","say":"hi"}"#).status == 404)
        // A profile past the limits is answered with the field, and identity.yaml is untouched.
        let before = try String(contentsOfFile: s.node.home + "/identity.yaml", encoding: .utf8)
        let many = (0..<1_001).map { _ in #"{"text":"m","visibility":"public","tags":[]}"# }.joined(separator: ",")
        let profile = #"{"profile":{"name":"Ada","bio":"","interests":[],"values":[],"style":"","memories":[\#(many)]}}"#
        let answer = try api(s, "save-identity", profile)
        #expect(answer.status == 200 && answer.body.contains(#""field":"memories""#) && answer.body.contains(#""saved":false"#), "\(answer.body.prefix(300))")
        let injected = #"{"profile":{"name":"Ada\nengine:\n  kind: openai","bio":"","interests":[],"values":[],"style":"","memories":[]}}"#
        let second = try api(s, "save-identity", injected)
        #expect(second.body.contains(#""saved":false"#) || second.body.contains(#""saved":true"#))
        let after = try String(contentsOfFile: s.node.home + "/identity.yaml", encoding: .utf8)
        if second.body.contains(#""saved":true"#) {
            // Saved as a name with a newline in it, never as a second key.
            #expect(!after.contains("kind: openai\n") || after.contains("|"), "a name wrote a YAML key: \(after)")
            #expect(try api(s, "identity").body.contains(#""name":"Ada\nengine:\n  kind: openai""#))
        } else {
            #expect(after == before)
        }
        #expect(try api(s, "status").status == 200, "the node still serves")
    }

    @Test func theOpenAPIDocumentNamesEveryCommandTheAPIServes() throws {
        let doc = try String(contentsOf: Fixtures.repoFile("Protocol/dashboard-openapi.yaml"), encoding: .utf8)
        let s = try Self.serve()
        defer { s.node.stop() }
        for name in ["status", "invite", "peers", "requests", "suggestions", "reload", "acks", "connect", "resolve", "accept", "decline",
                     "unfriend", "talk", "chat", "close", "people", "conversations", "conversation", "export", "identity", "preview",
                     "save-identity", "dashboard"] {
            #expect(doc.contains("  /api/\(name):"), "the OpenAPI document lacks /api/\(name)")
            // Served: never a 404 for a named command (a missing field is a 400 or a 422).
            #expect(try api(s, name, #"{"conv":"00","did":"x"}"#).status != 404, "/api/\(name)")
        }
        for path in ["/api/sign-in", "/api/events", "/api/say", "/api/export"] { #expect(doc.contains("  \(path):"), "\(path)") }
    }

    @Test func aTakenOrNonLoopbackAddressIsRefusedAndTheDefaultFallsBackToAFreePort() throws {
        let a = try Self.serve()
        defer { a.node.stop() }
        // An explicit address that is taken: the node does not start, and says what to do.
        let log = try Fixtures.temporaryDirectory("kith-clash").appendingPathComponent("run.log").path
        #expect(throws: (any Error).self) {
            _ = try NodeProcess(example: "ben", extraArguments: ["--dashboard", "127.0.0.1:\(a.port)"], logFile: log)
        }
        let said = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(said.contains("--dashboard HOST:PORT"), "\(said)")
        let home = try Fixtures.temporaryDirectory("kith-dash2").appendingPathComponent("home").path
        _ = try CLI.run(["init", "--home", home, "--name", "Bo"])
        for wide in ["0.0.0.0:7480", "127.0.0.1.nip.io:7480", "127.example:7480", "[::]:7480"] {
            let run = try CLI.run(["run", "--home", home, "--no-dht", "--dashboard", wide])
            #expect(run.status != 0 && run.stderr.contains("loopback"), "\(wide): \(run.stderr)")
        }
        // Two nodes with the default address: both serve, on different ports (7480 when free).
        let b = try NodeProcess(example: "ben", defaultDashboard: true)
        defer { b.stop() }
        let c = try NodeProcess(example: "cleo", defaultDashboard: true)
        defer { c.stop() }
        let urls = try [b, c].map { try CLI.run(["dashboard", "--home", $0.home, "--no-open"]).stdout }
        #expect(urls.allSatisfy { $0.hasPrefix("http://127.0.0.1:") } && urls[0] != urls[1], "\(urls)")
        let off = try NodeProcess(example: "ada")
        defer { off.stop() }
        #expect(try CLI.run(["dashboard", "--home", off.home, "--no-open"]).stderr.contains("--no-dashboard"))
    }
}
