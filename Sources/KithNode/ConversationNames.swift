public import KithModel
public import KithStore

/// People's names for transcripts: from the manifests this node holds, else from the manifest the
/// person brought into the conversation (a stranger's node shows no profile otherwise).
public enum ConversationNames {
    /// Names for each participant of `log`.
    public static func names(_ log: ConversationLog, store: Store) -> [Identity: String] {
        var names: [Identity: String] = [:]
        for p in log.participants {
            names[p] = (try? store.manifest(of: p))?.manifest.name
                ?? log.manifests.filter { $0.manifest.id == p }.max { $0.manifest.seq < $1.manifest.seq }?.manifest.name
        }
        return names
    }

    /// The name of `peer` in conversation `conv` (hex).
    public static func name(of peer: Identity, conv: String, store: Store) -> String? {
        if let stored = try? store.manifest(of: peer) { return stored.manifest.name }
        guard let id = Hex.decode(conv), let records = try? store.conversationRecords(id) else { return nil }
        return records.manifests.compactMap { try? Manifest.verify($0) }.filter { $0.id == peer }.max { $0.seq < $1.seq }?.name
    }
}

