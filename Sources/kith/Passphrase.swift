#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import KithCrypto
import KithNode

/// Where passphrases come from: `$KITH_PASSPHRASE`, else the terminal (asked without echo).
enum Passphrase {
    /// The passphrase for an existing protected key, or nil when the key is not protected.
    static func forOpening(_ home: NodeHome) throws -> SecretBytes? {
        guard try home.needsPassphrase() else { return nil }
        return try read(prompt: "Passphrase for \(home.keyFile): ")
    }

    /// A new passphrase, asked twice on a terminal.
    static func forNewKey() throws -> SecretBytes {
        let first = try read(prompt: "New passphrase: ")
        if ProcessInfo.processInfo.environment["KITH_PASSPHRASE"] == nil {
            let second = try read(prompt: "Repeat passphrase: ")
            guard first.constantTimeEquals(second) else { throw NodeError("the passphrases differ; run the command again") }
        }
        guard first.count >= 8 else { throw NodeError("a passphrase needs at least 8 characters") }
        return first
    }

    private static func read(prompt: String) throws -> SecretBytes {
        if var env = ProcessInfo.processInfo.environment["KITH_PASSPHRASE"].map({ Array($0.utf8) }) {
            return SecretBytes(consuming: &env, locked: true)
        }
        guard isatty(STDIN_FILENO) == 1, let raw = getpass(prompt) else {
            throw NodeError("the key is passphrase-protected: set KITH_PASSPHRASE or run from a terminal")
        }
        let length = strlen(raw)
        let secret = SecretBytes(count: length, locked: true) { out in
            if length > 0 { out.baseAddress!.copyMemory(from: raw, byteCount: length) }
        }
        memset(raw, 0, length)
        return secret
    }
}
