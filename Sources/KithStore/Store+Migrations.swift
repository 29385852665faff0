import GRDB

extension Store {
    /// The schema, as named, ordered migrations. Never edit a shipped migration; add one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "identity") { t in
                t.column("singleton", .integer).primaryKey().check { $0 == 1 }
                t.column("id", .blob).notNull()
                t.column("network", .text).notNull()
                t.column("net", .blob).notNull()
                t.column("createdAt", .integer).notNull()
            }
            try db.create(table: "manifest") { t in
                t.column("id", .blob).primaryKey()
                t.column("seq", .integer).notNull()
                t.column("bytes", .blob).notNull()
                t.column("sig", .blob).notNull()
                t.column("hash", .blob).notNull()
                t.column("receivedAt", .integer).notNull()
                t.column("equivocating", .boolean).notNull().defaults(to: false)
            }
            try db.create(table: "peer") { t in
                t.column("id", .blob).primaryKey()
                t.column("addedAt", .integer).notNull()
                t.column("note", .text)
            }
            try db.create(table: "endpoint") { t in
                t.column("id", .blob).notNull()
                t.column("address", .text).notNull()
                t.column("lastSeen", .integer)
                t.primaryKey(["id", "address"])
            }
        }
        migrator.registerMigration("v2-connections") { db in
            // Signed connection records involving this node: a friendship holds when both
            // sides' records for the pair are here.
            try db.create(table: "connection") { t in
                t.column("a", .blob).notNull()
                t.column("b", .blob).notNull()
                t.column("by", .blob).notNull()
                t.column("ts", .integer).notNull()
                t.column("bytes", .blob).notNull()
                t.column("sig", .blob).notNull()
                t.column("receivedAt", .integer).notNull()
                t.primaryKey(["a", "b", "by"])
            }
        }
        migrator.registerMigration("v3-revocations") { db in
            // The standing statement per signer and pair: a connection or a revocation.
            try db.alter(table: "connection") { t in
                t.add(column: "type", .text).notNull().defaults(to: "connection")
            }
        }
        migrator.registerMigration("v4-conversations") { db in
            try db.create(table: "conversation") { t in
                t.column("id", .blob).primaryKey()
                t.column("headerBytes", .blob).notNull()
                t.column("headerSig", .blob).notNull()
                t.column("peer", .blob).notNull()
                t.column("topic", .text).notNull()
                t.column("initiatedByMe", .boolean).notNull()
                t.column("state", .text).notNull()
                t.column("createdAt", .integer).notNull()
                t.column("updatedAt", .integer).notNull()
            }
            try db.create(table: "entry") { t in
                t.column("conv", .blob).notNull().references("conversation", onDelete: .restrict)
                t.column("seq", .integer).notNull()
                t.column("bytes", .blob).notNull()
                t.column("sig", .blob).notNull()
                t.column("hash", .blob).notNull()
                t.column("receivedAt", .integer).notNull()
                t.primaryKey(["conv", "seq"])
            }
            try db.create(table: "seal") { t in
                t.column("conv", .blob).notNull().references("conversation", onDelete: .restrict)
                t.column("by", .blob).notNull()
                t.column("bytes", .blob).notNull()
                t.column("sig", .blob).notNull()
                t.primaryKey(["conv", "by"])
            }
            // The log is append-only: SQLite itself refuses to rewrite history.
            for table in ["entry", "seal"] {
                try db.execute(sql: "CREATE TRIGGER \(table)_no_update BEFORE UPDATE ON \(table) BEGIN SELECT RAISE(ABORT, '\(table) rows are append-only'); END")
                try db.execute(sql: "CREATE TRIGGER \(table)_no_delete BEFORE DELETE ON \(table) BEGIN SELECT RAISE(ABORT, '\(table) rows are append-only'); END")
            }
        }
        migrator.registerMigration("v5-introductions") { db in
            // Proposals the AIs agreed on, waiting for this node's person (policy.connect: ask).
            try db.create(table: "introduction") { t in
                t.column("peer", .blob).primaryKey()
                t.column("conv", .blob).notNull()
                t.column("match", .integer).notNull()  // thousandths
                t.column("reasons", .text).notNull()   // one per line
                t.column("excerpt", .text).notNull()
                t.column("createdAt", .integer).notNull()
            }
        }
        migrator.registerMigration("v6-conversation-manifests") { db in
            // The participants' manifests a conversation carries (their model commitments).
            try db.create(table: "conversationManifest") { t in
                t.column("conv", .blob).notNull().references("conversation", onDelete: .restrict)
                t.column("hash", .blob).notNull()
                t.column("bytes", .blob).notNull()
                t.column("sig", .blob).notNull()
                t.primaryKey(["conv", "hash"])
            }
            try db.execute(sql: "CREATE TRIGGER conversationManifest_no_update BEFORE UPDATE ON conversationManifest BEGIN SELECT RAISE(ABORT, 'conversation manifests are append-only'); END")
            try db.execute(sql: "CREATE TRIGGER conversationManifest_no_delete BEFORE DELETE ON conversationManifest BEGIN SELECT RAISE(ABORT, 'conversation manifests are append-only'); END")
        }
        migrator.registerMigration("v7-advertised-addresses") { db in
            // Where each friend says it listens (its `addresses` message), and whether it lets
            // this node pass them on to friends of friends.
            try db.create(table: "advertisedAddress") { t in
                t.column("id", .blob).notNull()
                t.column("address", .text).notNull()
                t.column("share", .text).notNull()
                t.column("receivedAt", .integer).notNull()
                t.primaryKey(["id", "address"])
            }
        }
        migrator.registerMigration("v8-request-sources") { db in
            // Which network each pending stranger request came from, so they can be capped per
            // /24 (or /64) and in total; and an index for the `a = ? OR b = ?` lookups.
            try db.create(table: "requestSource") { t in
                t.column("peer", .blob).primaryKey()
                t.column("prefix", .text).notNull().indexed()
                t.column("receivedAt", .integer).notNull()
            }
            try db.create(index: "connection_b", on: "connection", columns: ["b"])
        }
        migrator.registerMigration("v9-dht-record-keys") { db in
            // DHT record keys (Protocol/dht.md): this node's own (its identity's row) and each
            // friend's, which reads that friend's `friends` record.
            try db.create(table: "dhtRecordKey") { t in
                t.column("id", .blob).primaryKey()
                t.column("key", .blob).notNull()
                t.column("receivedAt", .integer).notNull()
            }
        }
        migrator.registerMigration("v10-memory-ledger") { db in
            // The memories this node's AI drew on, by the keyed hash its signed entries carry
            // (`kith disclosures` names them after an edit or a visibility change).
            try db.create(table: "memoryLedger") { t in
                t.column("hash", .blob).primaryKey()
                t.column("text", .text).notNull()
                t.column("visibility", .text).notNull()
                t.column("firstUsed", .integer).notNull()
            }
        }
        return migrator
    }
}
