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
        guard try home.needsPassphrase() else {
            scrub()  // not needed: gone all the same
            return nil
        }
        return try read(prompt: "Passphrase for \(home.keyFile): ")
    }

    /// A new passphrase, asked twice on a terminal.
    static func forNewKey() throws -> SecretBytes {
        let fromEnvironment = getenv(variable) != nil
        let first = try read(prompt: "New passphrase: ")
        if !fromEnvironment {
            let second = try read(prompt: "Repeat passphrase: ")
            guard first.constantTimeEquals(second) else { throw NodeError("the passphrases differ; run the command again") }
        }
        guard first.count >= 8 else { throw NodeError("a passphrase needs at least 8 characters") }
        return first
    }

    static let variable = "KITH_PASSPHRASE"
    /// Where scripts put a backup's passphrase (never the key's: the two are separate secrets).
    static let backupVariable = "KITH_BACKUP_PASSPHRASE"

    /// A backup's passphrase: asked twice on a terminal when `creating`.
    static func forBackup(creating: Bool) throws -> SecretBytes {
        let fromEnvironment = getenv(backupVariable) != nil
        let first = try read(prompt: "Backup passphrase: ", variable: backupVariable)
        if creating && !fromEnvironment {
            let second = try read(prompt: "Repeat backup passphrase: ", variable: backupVariable)
            guard first.constantTimeEquals(second) else { throw NodeError("the passphrases differ; run the command again") }
        }
        if creating { guard first.count >= 8 else { throw NodeError("a backup passphrase needs at least 8 characters") } }
        return first
    }

    /// Wipes the variable's value in place and removes it.
    static func scrub(_ name: String = variable) {
        guard let raw = getenv(name) else { return }
        memset(raw, 0, strlen(raw))
        unsetenv(name)
    }

    private static func read(prompt: String, variable: String = variable) throws -> SecretBytes {
        if let raw = getenv(variable) {
            // Taken once: the value is copied into locked memory, then wiped from the process's
            // environment block (which /proc/PID/environ shows) and the variable removed, so
            // neither this process's children nor anyone reading its environment sees it.
            defer { scrub(variable) }
            return copy(raw)
        }
        guard isatty(STDIN_FILENO) == 1, let raw = getpass(prompt) else {
            throw NodeError("a passphrase is needed: set \(variable) or run from a terminal")
        }
        defer { memset(raw, 0, strlen(raw)) }
        return copy(raw)
    }

    /// The C string's bytes in locked secret memory.
    private static func copy(_ raw: UnsafeMutablePointer<CChar>) -> SecretBytes {
        let length = strlen(raw)
        return SecretBytes(count: length, locked: true) { out in
            if length > 0 { out.baseAddress!.copyMemory(from: raw, byteCount: length) }
        }
    }
}
