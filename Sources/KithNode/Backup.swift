import Foundation
import KithCBOR
public import KithCrypto
import KithModel
public import KithProtocol
import KithStore

/// `kith backup` and `kith restore`: a node's key file, `identity.yaml` and a consistent snapshot
/// of its database in one file sealed with a passphrase (Argon2id, then XSalsa20-Poly1305), so a
/// lost machine costs nothing. A restored node signs its next manifest above anything it signed
/// before (the seq is the signing time, and friends tell it the seq they hold), so no friend
/// flags it for equivocation. Format: `Protocol/identity.md`, backups.
public enum Backup {
    /// The format tag.
    public static let format = "kith-backup/1"
    /// Largest backup written or read: 1 GiB.
    public static let maxSize = 1 << 30

    /// What a backup holds.
    public struct Report: Sendable, Codable {
        /// The node's identity.
        public var id: String
        /// When the backup was made, ms.
        public var created: UInt64
        /// Size of the database snapshot, bytes.
        public var databaseBytes: Int
        /// Size of the backup file, bytes.
        public var fileBytes: Int
    }

    /// Writes a backup of `home` to `file` (created 0600; never overwritten).
    public static func write(_ home: NodeHome, to file: String, passphrase: SecretBytes, cost: PasswordBox.Cost = .moderate,
                             now: UInt64 = WallClock.system.now(), progress: (String) -> Void = { _ in }) throws(NodeError) -> Report {
        guard home.isInitialised else { throw NodeError("no Kith identity in \(home.path): nothing to back up") }
        guard !FileManager.default.fileExists(atPath: file) else { throw NodeError("\(file) exists: choose another --out (a backup is never overwritten)") }
        let store = try home.openStore()
        let record: OwnIdentityRecord
        do {
            guard let stored = try store.ownIdentity() else { throw NodeError("\(home.databaseFile) has no identity recorded") }
            record = stored
        } catch let error as NodeError { throw error } catch { throw NodeError("\(error)") }
        progress("snapshotting the database…")
        let snapshot = home.path + "/.backup-\(UUID().uuidString).db"
        defer { try? FileManager.default.removeItem(atPath: snapshot) }
        do { try store.snapshot(to: snapshot) } catch { throw NodeError(error.message) }
        var key = try readFile(home.keyFile), database = try readFile(snapshot)
        let yaml = try readFile(home.modelFile)
        defer {
            SecretBytes.zero(&key)
            SecretBytes.zero(&database)
        }
        guard database.count + key.count + yaml.count < maxSize - 4096 else {
            throw NodeError("the database is over 1 GiB: a backup this large is not supported")
        }
        var contents = CBOR.textMap([
            "v": 1, "id": .bytes(record.identity.bytes), "network": .text(record.network), "created": .unsigned(now),
            "key": .bytes(key), "yaml": .bytes(yaml), "db": .bytes(database),
        ]).encoded()
        let secret = SecretBytes(consuming: &contents)
        progress("sealing \(database.count / 1024) KiB with your passphrase (Argon2id)…")
        let sealed: PasswordBox.Sealed
        do { sealed = try PasswordBox.seal(secret, passphrase: passphrase, cost: cost) } catch { throw NodeError("cannot seal the backup: \(error)") }
        let bytes = CBOR.textMap([
            "format": .text(format), "salt": .bytes(sealed.salt), "nonce": .bytes(sealed.nonce),
            "ops": .unsigned(sealed.cost.opsLimit), "mem": .unsigned(sealed.cost.memLimit), "box": .bytes(sealed.box),
        ]).encoded()
        do { try KeyFile.writeNewFile(file, contents: bytes) } catch { throw NodeError(error.message) }
        return Report(id: record.identity.did, created: now, databaseBytes: database.count, fileBytes: bytes.count)
    }

    /// Restores the backup in `file` into `home`, which must not hold an identity yet.
    public static func restore(_ file: String, into home: NodeHome, passphrase: SecretBytes,
                               progress: (String) -> Void = { _ in }) throws(NodeError) -> Report {
        let files = [home.keyFile, home.modelFile, home.databaseFile, home.databaseFile + "-wal", home.databaseFile + "-shm"]
        guard !files.contains(where: FileManager.default.fileExists(atPath:)) else {
            throw NodeError("\(home.path) already holds a node (or part of one): restore into an empty --home (move the old folder aside first)")
        }
        let raw = try readFile(file, limit: maxSize)
        let sealed = try parse(raw, file: file)
        progress("opening the backup (Argon2id)…")
        let secret: SecretBytes
        do { secret = try PasswordBox.open(sealed, passphrase: passphrase) } catch {
            throw NodeError("cannot open \(file): wrong passphrase, or the file was altered")
        }
        let contents: (id: Identity, network: String, created: UInt64, key: [UInt8], yaml: [UInt8], db: [UInt8])
        do {
            contents = try secret.withUnsafeBytes { bytes in
                let map = try CBOR.decode(Array(bytes), limits: CBORLimits(maxInputSize: maxSize, maxDepth: 2))
                guard case .map(let m) = map, m.count == 7, map["v"] == 1,
                      case .bytes(let id)? = map["id"], case .text(let network)? = map["network"], case .unsigned(let created)? = map["created"],
                      case .bytes(let key)? = map["key"], case .bytes(let yaml)? = map["yaml"], case .bytes(let db)? = map["db"]
                else { throw NodeError("\(file) holds no Kith backup this version can read") }
                return (try Identity(publicKeyBytes: id), network, created, key, yaml, db)
            }
        } catch let error as NodeError { throw error } catch { throw NodeError("\(file) holds no Kith backup this version can read: \(error)") }
        progress("writing \(home.path)…")
        try home.createFolder()
        // Only what this run created is removed again on failure.
        var created: [String] = []
        func undo() { for f in created { try? FileManager.default.removeItem(atPath: f) } }
        do {
            for (path, bytes) in [(home.keyFile, contents.key), (home.modelFile, contents.yaml), (home.databaseFile, contents.db)] {
                try KeyFile.writeNewFile(path, contents: bytes)
                created.append(path)
            }
        } catch {
            undo()
            throw NodeError(error.message)
        }
        // The restored key (when not passphrase-protected), database and model must belong together.
        do {
            if try !KeyFile.isPassphraseProtected(at: home.keyFile), try KeyFile.read(from: home.keyFile).identity != contents.id {
                throw NodeError("the key file is not the backup's identity")
            }
            created += [home.databaseFile + "-wal", home.databaseFile + "-shm"]
            let store = try home.openStore()
            guard try store.integrityCheck() == "ok", try store.ownIdentity()?.identity == contents.id else {
                throw NodeError("the restored database does not belong to the backup's identity")
            }
            _ = try home.loadModel()
        } catch {
            undo()
            throw NodeError("the backup's contents do not check out (\(error)); nothing was restored")
        }
        return Report(id: contents.id.did, created: contents.created, databaseBytes: contents.db.count, fileBytes: raw.count)
    }

    /// Reads the outer, unencrypted part strictly.
    static func parse(_ raw: [UInt8], file: String) throws(NodeError) -> PasswordBox.Sealed {
        let item: CBOR
        do { item = try CBOR.decode(raw, limits: CBORLimits(maxInputSize: maxSize, maxDepth: 2)) } catch {
            throw NodeError("\(file) is not a Kith backup (\(error))")
        }
        guard case .map(let m) = item, m.count == 6, item["format"] == .text(format),
              case .bytes(let salt)? = item["salt"], salt.count == PasswordBox.saltLength,
              case .bytes(let nonce)? = item["nonce"], nonce.count == PasswordBox.nonceLength,
              case .unsigned(let ops)? = item["ops"], case .unsigned(let mem)? = item["mem"], case .bytes(let box)? = item["box"]
        else { throw NodeError("\(file) is not a \(format) file") }
        let cost = PasswordBox.Cost(opsLimit: ops, memLimit: mem)
        guard cost.isAcceptable else { throw NodeError("\(file) asks for an unreasonable Argon2id cost: refusing to open it") }
        return PasswordBox.Sealed(salt: salt, nonce: nonce, box: box, cost: cost)
    }

    private static func readFile(_ path: String, limit: Int = maxSize) throws(NodeError) -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw NodeError("cannot read \(path): check the path") }
        defer { try? handle.close() }
        let data: Data
        do { data = try handle.read(upToCount: limit + 1) ?? Data() } catch { throw NodeError("cannot read \(path): \(error.localizedDescription)") }
        guard data.count <= limit else { throw NodeError("\(path) is over \(limit >> 20) MiB") }
        return [UInt8](data)
    }
}
