import HTTPTypes
import Hummingbird
import NIOConcurrencyHelpers

/// Checks every request before any route sees it:
/// - the `Host` must be the dashboard's own address (a DNS-rebinding page names another);
/// - a cross-origin request is refused (`Origin` or `Sec-Fetch-Site` naming another site);
/// - every `/api/` call (but the sign-in) must carry the token as `Authorization: Bearer TOKEN`.
///   No cookie is ever a credential: a browser attaches cookies to requests any page makes (and
///   sends them to every port of a host), a header only the dashboard's own page can set.
/// Every response forbids framing, sniffing, referrers and anything not served by this origin.
struct RequestGuard<Context: RequestContext>: RouterMiddleware {
    let token: DashboardToken
    /// The names this server answers to, known once it is bound.
    let address: ServedAddress

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await check(request, context: context, next: next)
        let headers: [(HTTPField.Name, String)] = [
            (.contentSecurityPolicy, "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
                + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
            (.xContentTypeOptions, "nosniff"),
            (HTTPField.Name("Referrer-Policy")!, "no-referrer"),
            (HTTPField.Name("X-Frame-Options")!, "DENY"),
            (HTTPField.Name("Cross-Origin-Resource-Policy")!, "same-origin"),
            (.cacheControl, "no-store"),
        ]
        for (name, value) in headers where response.headers[name] == nil { response.headers[name] = value }
        return response
    }

    private func check(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let authorities = address.authorities
        guard let authority = request.head.authority?.lowercased(), authorities.contains(authority) else {
            return Self.refuse(.misdirectedRequest, "this dashboard answers only at its own address (\(authorities.sorted().first ?? ""))")
        }
        let origin = request.headers[.origin]
        if let origin, !authorities.contains(where: { "http://" + $0 == origin.lowercased() }) {
            return Self.refuse(.forbidden, "cross-origin requests are refused")
        }
        if let site = request.headers[HTTPField.Name("Sec-Fetch-Site")!], site == "cross-site" || site == "same-site" {
            return Self.refuse(.forbidden, "cross-origin requests are refused")
        }
        guard request.uri.path.hasPrefix("/api/"), request.uri.path != "/api/sign-in" else { return try await next(request, context) }
        guard let authorization = request.headers[.authorization] else {
            return Self.refuse(.unauthorized, "no token: open the address `kith dashboard` prints")
        }
        guard authorization.hasPrefix("Bearer "), token.matches(authorization.dropFirst(7)) else {
            return Self.refuse(.unauthorized, "wrong token: open the address `kith dashboard` prints")
        }
        return try await next(request, context)
    }

    static func refuse(_ status: HTTPResponse.Status, _ message: String) -> Response {
        DashboardAPI.json(status: status, #"{"ok":false,"error":"# + DashboardAPI.jsonString(message) + "}")
    }
}

/// The `host:port` names the dashboard answers to (its bound address, and `localhost`,
/// `127.0.0.1` and `[::1]` at its port), set once it listens.
final class ServedAddress: Sendable {
    private let names = NIOLockedValueBox<Set<String>>([])

    var authorities: Set<String> { names.withLockedValue { $0 } }

    func bound(host: String, port: Int) {
        let all = Set([host, "localhost", "127.0.0.1", "[::1]"].map { "\($0):\(port)" })
        names.withLockedValue { $0 = all }
    }
}
