import Foundation
import NIOConcurrencyHelpers
import KithCrypto
import KithModel
import KithNode

/// The dashboard's per-node secret: 32 random bytes in `dashboard.token` (0600) in the node's
/// home, created on first use. Every API call must present it (a bearer header, or the
/// session cookie the page gets by presenting it once).
struct DashboardToken: Sendable {
    /// The token as the URL and the cookie carry it (base64url, no padding).
    let text: String
    private let secret: SecretBytes

    static func file(in home: NodeHome) -> String { home.path + "/dashboard.token" }

    /// Reads the token, or creates it.
    static func load(home: NodeHome) throws -> DashboardToken {
        let path = file(in: home)
        if let data = FileManager.default.contents(atPath: path) {
            var text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard var bytes = Base64URL.decode(text), bytes.count == 32 else {
                text = ""
                throw NodeError("\(path) is not a dashboard token: delete it and restart the node (a new one is made)")
            }
            chmod(path, 0o600)
            return DashboardToken(text: text, secret: SecretBytes(consuming: &bytes))
        }
        var fresh = Random.bytes(32)
        let text = Base64URL.encode(fresh)
        let token = DashboardToken(text: text, secret: SecretBytes(consuming: &fresh))
        guard FileManager.default.createFile(atPath: path, contents: Data((text + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw NodeError("cannot write \(path): check the home folder's permissions")
        }
        return token
    }

    /// True when `presented` is this token (compared in constant time).
    func matches(_ presented: Substring) -> Bool {
        guard presented.utf8.count <= 64, var other = Base64URL.decode(String(presented)), other.count == secret.count else { return false }
        return secret.constantTimeEquals(SecretBytes(consuming: &other))
    }
}

/// Single-use sign-in codes: `kith dashboard` gets one in its address (`#code=…`) instead of
/// the token, so the token never appears in an address, a browser's history or a process's
/// arguments; the page trades the code for the token once, within a minute.
final class SignInCodes: Sendable {
    static let lifetime: Duration = .seconds(60)
    static let limit = 16
    private let codes = NIOLockedValueBox<[String: ContinuousClock.Instant]>([:])

    /// A fresh code.
    func issue() -> String {
        let code = Base64URL.encode(Random.bytes(16))
        let now = ContinuousClock.now
        codes.withLockedValue { codes in
            codes = codes.filter { now - $0.value < Self.lifetime }
            if codes.count >= Self.limit, let oldest = codes.min(by: { $0.value < $1.value }) { codes[oldest.key] = nil }
            codes[code] = now
        }
        return code
    }

    /// True (once) for a code issued less than a minute ago.
    func redeem(_ code: String) -> Bool {
        let now = ContinuousClock.now
        return codes.withLockedValue { codes in
            guard let issued = codes.removeValue(forKey: code) else { return false }
            return now - issued < Self.lifetime
        }
    }
}
