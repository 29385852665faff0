import Foundation
import GRDB
import KithModel

/// The node's SQLite database (GRDB, WAL mode): its own identity, replicated manifests with their
/// exact signed bytes, peers and their endpoints.
public final class Store: Sendable {
    /// `PRAGMA application_id` of every Kith database: ASCII "KITH".
    static let applicationID: Int32 = 0x4B49_5448

    private let writer: any DatabaseWriter
    /// Where the database lives (`:memory:` for a temporary one).
    public let path: String

    /// Opens (creating if needed) the database at `path` and migrates it to the current schema.
    /// A file that is not SQLite, is damaged, or belongs to another application is refused with
    /// a clear error and left untouched.
    public init(path: String) throws(StoreError) {
        self.path = path
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(5)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        do {
            let pool = try DatabasePool(path: path, configuration: config)
            self.writer = pool
        } catch {
            throw Store.explain(error, path: path)
        }
        try prepareSchema()
    }

    /// A private in-memory database, for tests and simulations.
    public init() throws(StoreError) {
        self.path = ":memory:"
        do { self.writer = try DatabaseQueue() } catch { throw Store.explain(error, path: path) }
        try prepareSchema()
    }

    private func prepareSchema() throws(StoreError) {
        do {
            try writer.writeWithoutTransaction { db in
                let appID = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
                if appID != Store.applicationID {
                    let tables = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") ?? 0
                    guard appID == 0, tables == 0 else {
                        throw StoreError("\(path) is not a Kith database (it belongs to another application): use another --home")
                    }
                    try db.execute(sql: "PRAGMA application_id = \(Store.applicationID)")
                }
            }
            try Store.migrator.migrate(writer)
            let quick = try writer.read { db in try String.fetchOne(db, sql: "PRAGMA quick_check") }
            guard quick == "ok" else {
                throw StoreError("\(path) is damaged (\(quick ?? "no answer")): restore it from a backup or move it aside")
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw Store.explain(error, path: path)
        }
    }

    static func explain(_ error: any Error, path: String) -> StoreError {
        if let db = error as? DatabaseError {
            switch db.resultCode {
            case .SQLITE_NOTADB, .SQLITE_CORRUPT:
                return StoreError("\(path) is not a SQLite database or is damaged: move it aside (your key file is separate and safe) and run the command again")
            case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_READONLY:
                return StoreError("cannot open \(path) for writing: check that the folder exists and is yours")
            case .SQLITE_FULL:
                return StoreError("the disk holding \(path) is full: free some space and retry")
            default:
                return StoreError("database error in \(path): \(db.message ?? "\(db.resultCode)")")
            }
        }
        return StoreError("database error in \(path): \(error)")
    }

    func write<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do { return try writer.write(body) } catch let error as StoreError { throw error } catch { throw Store.explain(error, path: path) }
    }

    func read<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do { return try writer.read(body) } catch let error as StoreError { throw error } catch { throw Store.explain(error, path: path) }
    }

    /// Writes a consistent snapshot of the whole database to a new file at `path` (SQLite's
    /// `VACUUM INTO`), safe while the node runs and writes.
    public func snapshot(to path: String) throws(StoreError) {
        do {
            try writer.writeWithoutTransaction { db in try db.execute(sql: "VACUUM INTO ?", arguments: [path]) }
        } catch {
            throw Store.explain(error, path: path)
        }
    }

    /// Runs SQLite's full integrity check; "ok" when the file is sound.
    public func integrityCheck() throws(StoreError) -> String {
        try read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ") }
    }
}
