#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import KithCrypto

// `KeyFile.read`/`write` shadow the C functions inside the type.
private let systemRead: @Sendable (Int32, UnsafeMutableRawPointer?, Int) -> Int = { read($0, $1, $2) }
private let systemWrite: @Sendable (Int32, UnsafeRawPointer?, Int) -> Int = { write($0, $1, $2) }

/// The secret key file (`$KITH_HOME/identity.key`), a small binary file described in
/// `Protocol/identity.md`:
///
/// - unprotected: `"KITHKEY1"` ‖ 0x00 ‖ seed (32) ‖ model salt (32)
/// - passphrase:  `"KITHKEY1"` ‖ 0x01 ‖ opslimit (u32 BE) ‖ memlimit (u64 BE) ‖ Argon2id salt (16)
///   ‖ nonce (24) ‖ secretbox(seed ‖ model salt) (80)
///
/// The file is created with mode 0600 and refused when group or others can read or write it.
public enum KeyFile {
    static let magic = Array("KITHKEY1".utf8)
    static let plainLength = 8 + 1 + 64
    static let protectedLength = 8 + 1 + 4 + 8 + 16 + 24 + 64 + 16

    /// Whether the file at `path` asks for a passphrase.
    public static func isPassphraseProtected(at path: String) throws(KeyFileError) -> Bool {
        var bytes = try readSecretFile(path)
        defer { SecretBytes.zero(&bytes) }
        return bytes.count > magic.count && bytes[magic.count] == 1
    }

    /// Writes `keys` to a new file at `path` (mode 0600); refuses to overwrite.
    public static func write(_ keys: NodeKeys, to path: String, passphrase: SecretBytes? = nil,
                             cost: PasswordBox.Cost = .moderate) throws(KeyFileError) {
        let secret = SecretBytes(count: 64, locked: true) { out in
            keys.signing.seed().withUnsafeBytes { s in out.baseAddress!.copyMemory(from: s.baseAddress!, byteCount: 32) }
            keys.modelSalt.withUnsafeBytes { s in (out.baseAddress! + 32).copyMemory(from: s.baseAddress!, byteCount: 32) }
        }
        var file = magic
        if let passphrase {
            let sealed: PasswordBox.Sealed
            do { sealed = try PasswordBox.seal(secret, passphrase: passphrase, cost: cost) } catch {
                throw KeyFileError("could not protect the key with the passphrase: \(error)")
            }
            file.append(1)
            file.append(contentsOf: bigEndian(sealed.cost.opsLimit, width: 4))
            file.append(contentsOf: bigEndian(sealed.cost.memLimit, width: 8))
            file += sealed.salt + sealed.nonce + sealed.box
        } else {
            file.append(0)
            secret.withUnsafeBytes { file.append(contentsOf: $0) }
        }
        defer { SecretBytes.zero(&file) }
        try writeNewFile(path, contents: file)
    }

    /// Reads the keys from `path`. A protected file needs `passphrase`.
    public static func read(from path: String, passphrase: SecretBytes? = nil) throws(KeyFileError) -> NodeKeys {
        var bytes = try readSecretFile(path)
        defer { SecretBytes.zero(&bytes) }
        guard bytes.count > magic.count, Array(bytes.prefix(magic.count)) == magic else {
            throw KeyFileError("\(path) is not a Kith key file (bad magic)")
        }
        let secret: SecretBytes
        switch bytes[magic.count] {
        case 0:
            guard bytes.count == plainLength else { throw KeyFileError("\(path) is damaged: wrong length \(bytes.count)") }
            secret = SecretBytes(count: 64, locked: true) { out in
                bytes.withUnsafeBytes { out.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[9..<73])) }
            }
        case 1:
            guard bytes.count == protectedLength else { throw KeyFileError("\(path) is damaged: wrong length \(bytes.count)") }
            guard let passphrase else {
                throw KeyFileError("\(path) is protected by a passphrase: set KITH_PASSPHRASE or run from a terminal to be asked")
            }
            var p = 9
            func take(_ n: Int) -> [UInt8] { defer { p += n }; return Array(bytes[p..<p + n]) }
            let ops = take(4).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let mem = take(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let sealed = PasswordBox.Sealed(salt: take(16), nonce: take(24), box: take(80),
                                            cost: .init(opsLimit: ops, memLimit: mem))
            guard sealed.cost.isAcceptable else { throw KeyFileError("\(path) has out-of-range Argon2id parameters") }
            do { secret = try PasswordBox.open(sealed, passphrase: passphrase) } catch {
                throw KeyFileError("wrong passphrase for \(path) (or the file was altered)")
            }
        default:
            throw KeyFileError("\(path) uses an unknown protection scheme \(bytes[magic.count])")
        }
        let seed = SecretBytes(count: 32, locked: true) { out in secret.withUnsafeBytes { out.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<32])) } }
        let salt = SecretBytes(count: 32, locked: true) { out in secret.withUnsafeBytes { out.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[32..<64])) } }
        do {
            return NodeKeys(signing: try Ed25519.KeyPair(seed: seed), modelSalt: salt)
        } catch {
            throw KeyFileError("\(path) holds an unusable key: \(error)")
        }
    }

    private static func bigEndian(_ value: UInt64, width: Int) -> [UInt8] {
        (0..<width).reversed().map { UInt8(truncatingIfNeeded: value >> UInt64($0 * 8)) }
    }

    /// Reads a whole secret file after checking it is a regular file that only its owner can
    /// read or write. At most 4 KiB is read.
    static func readSecretFile(_ path: String) throws(KeyFileError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else {
            if errno == ENOENT { throw KeyFileError("no key file at \(path): run `kith init` first") }
            throw KeyFileError("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw KeyFileError("\(path) is not a regular file")
        }
        guard info.st_mode & 0o077 == 0 else {
            let mode = String(info.st_mode & 0o777, radix: 8)
            throw KeyFileError("\(path) is readable or writable by others (mode \(mode)): run `chmod 600 \(path)`")
        }
        var buffer = [UInt8](repeating: 0, count: 4096)
        var total = 0
        while total < buffer.count {
            let n = buffer.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress! + total, $0.count - total) }
            if n < 0 {
                if errno == EINTR { continue }
                SecretBytes.zero(&buffer)
                throw KeyFileError("cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            total += n
        }
        let contents = Array(buffer[0..<total])
        SecretBytes.zero(&buffer)
        return contents
    }

    /// Creates `path` exclusively with mode 0600 and writes `contents` durably (also for the other
    /// private files of a home, such as a restored backup's).
    public static func writeNewFile(_ path: String, contents: [UInt8]) throws(KeyFileError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { throw KeyFileError("\(path) already exists: refusing to overwrite a key") }
            throw KeyFileError("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var written = 0
        while written < contents.count {
            let n = contents.withUnsafeBytes { systemWrite(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                throw KeyFileError("cannot write \(path): \(String(cString: strerror(errno)))")
            }
            written += n
        }
        guard fsync(fd) == 0 else { throw KeyFileError("cannot sync \(path): \(String(cString: strerror(errno)))") }
    }
}

/// A key file that could not be read or written.
public struct KeyFileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong and what to do.
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
