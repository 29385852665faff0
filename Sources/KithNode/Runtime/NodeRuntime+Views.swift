import Foundation
import KithCrypto
public import KithModel
import KithPersona
import KithStore

/// What the person's window (the dashboard) and the CLI read: people, transcripts with their
/// audits, the editable identity and what each kind of peer can learn from it.
extension NodeRuntime {
    /// `people`: everyone within reach and the friendships between them.
    public func peopleGraph() throws -> PeopleReport {
        try People.graph(store: context.store, me: identity, now: clock.now())
    }

    /// `conversations`: every stored conversation, newest first.
    public func conversationList() throws -> [ConversationItem] {
        try context.store.conversations().sorted { $0.updatedAt > $1.updatedAt }.map { c in
            let peer = try? Identity(did: c.with)
            return ConversationItem(id: c.id, with: c.with, name: peer.flatMap { ConversationNames.name(of: $0, conv: c.id, store: context.store) },
                                    topic: c.topic, entries: c.entries, state: c.state, updatedAt: c.updatedAt)
        }
    }

    /// `conversation`: one transcript, who produced each turn, what each drew on, and its audit.
    public func conversationDetail(_ conv: String) throws -> ConversationDetail {
        let id = try context.store.resolveConversation(conv)
        guard let records = try context.store.conversationRecords(id),
              let summary = try context.store.conversations().first(where: { $0.id == Hex.encode(id) })
        else { throw NodeError("no conversation \(conv): pick one from the list (`kith conversations`)") }
        let audit = ConversationLog.audit(records, now: clock.now())
        let header = try? ConversationHeader.verify(records.header)
        var names: [Identity: String] = [:]
        for p in header.map({ [$0.from, $0.to] }) ?? [] { names[p] = ConversationNames.name(of: p, conv: summary.id, store: context.store) }
        // This node's memories by their keyed hash, to say which ones its own turns drew on.
        let mine = MemoryNames(model: context.model, salt: context.keys.modelSalt, store: context.store)
        let turns = records.entries.compactMap { try? ConversationEntry.decode($0) }.map { e in
            ConversationDetail.Turn(
                seq: e.seq, author: e.author.did, authorName: names[e.author], mine: e.author == identity, kind: e.kind.rawValue, text: e.text,
                ts: e.ts, producer: e.producer?.description ?? "not recorded",
                disclosed: e.disclosed.map { hash in
                    let hex = Hex.encode(hash)
                    let memory = e.author == identity ? mine(hex) : nil
                    return .init(hash: hex, text: memory?.text, visibility: memory?.visibility)
                })
        }
        let peer = (try? Identity(did: summary.with)) ?? identity
        return ConversationDetail(id: summary.id, with: summary.with, name: names[peer], topic: summary.topic, state: summary.state,
                                  audit: AuditBadge(audit), entries: turns)
    }

    /// `export`: a conversation as a kithlog (for auditors) or Markdown (for people).
    public func exportConversation(_ conv: String, format: String) throws -> ExportReport {
        let id = try context.store.resolveConversation(conv)
        guard let records = try context.store.conversationRecords(id), let log = try context.store.loadConversation(id) else {
            throw NodeError("no conversation \(conv)")
        }
        let name = "kith-\(Hex.encode(id).prefix(12))"
        switch format {
        case "kithlog":
            return ExportReport(filename: name + ".kithlog", mediaType: "application/x-kithlog", text: KithLog.export(records))
        case "md":
            return ExportReport(filename: name + ".md", mediaType: "text/markdown",
                                text: KithLog.markdown(log, names: ConversationNames.names(log, store: context.store)))
        default:
            throw NodeError("export format must be kithlog or md")
        }
    }

    /// `identity`: the editable profile as `identity.yaml` has it now, and the policy.
    public func identityReport() throws -> IdentityReport {
        let model = try context.home.loadModel()
        let p = model.policy
        return IdentityReport(
            profile: IdentityProfile(model),
            policy: ["converse": p.converse.rawValue, "connect": p.connect.rawValue, "meet": p.meet.rawValue,
                     "addresses": p.addresses.rawValue, "dht": p.dht.rawValue, "relay": p.relay.rawValue,
                     "min_match": String(format: "%.3f", p.minMatch), "max_turns": String(p.maxTurns)],
            seq: manifest.manifest.seq)
    }

    /// `preview`: what a stranger, a friend of a friend and a friend can learn
    /// (`Protocol/disclosure.md`), for `profile` (an unsaved edit) or the model as it runs.
    public func disclosurePreview(_ profile: IdentityProfile?) throws -> DisclosurePreview {
        var model = context.model
        if let profile {
            model = try IdentityModel.editing(try identityYAML(), with: profile).model
        }
        return DisclosurePreview.of(model)
    }
}

extension DisclosurePreview {
    /// The table of `Protocol/disclosure.md` applied to `model`.
    public static func of(_ model: IdentityModel) -> DisclosurePreview {
        let p = model.policy
        func memories(_ friend: Bool) -> [String] { MemoryFilter.permitted(model, peerIsFriend: friend).map(\.text) }
        let strangerTalks = p.converse == .anyone
        let fofTalks = p.converse != .friends
        var stranger = DisclosurePreview.Audience(
            audience: "stranger", profile: strangerTalks, converses: strangerTalks, memories: strangerTalks ? memories(false) : [],
            addresses: false, notes: [])
        stranger.notes = strangerTalks
            ? ["sees your profile only in a conversation it opens and your AI accepts (policy.converse: anyone)"]
            : ["learns only your did:key when it connects; your AI declines its conversations (policy.converse: \(p.converse.rawValue))"]
        var fof = DisclosurePreview.Audience(
            audience: "friend of a friend", profile: true, converses: fofTalks, memories: fofTalks ? memories(false) : [],
            addresses: p.addresses == .fof, notes: [])
        fof.notes.append(p.addresses == .fof ? "friends may pass on your addresses (policy.addresses: fof)"
                                             : "learns your addresses only through an introduction you allow")
        if !fofTalks { fof.notes.append("your AI talks only with friends (policy.converse: friends)") }
        let friend = DisclosurePreview.Audience(
            audience: "friend", profile: true, converses: true, memories: memories(true), addresses: true,
            notes: ["friends-only memories are re-checked every turn: an unfriended peer hears none"])
        return DisclosurePreview(audiences: [stranger, fof, friend])
    }
}

extension NodeRuntime {
    /// `save-identity`: writes the edited profile into `identity.yaml` (other fields kept; the
    /// previous file kept as `identity.yaml.previous`) and reloads, re-signing the manifest
    /// when the public part changed. A wrong field is answered, not thrown.
    public func saveIdentity(_ profile: IdentityProfile) async throws -> SaveIdentityReport {
        let before = manifest.manifest.seq
        let yaml: String
        do { yaml = try IdentityModel.editing(try identityYAML(), with: profile).yaml } catch let error as IdentityModelError {
            return SaveIdentityReport(saved: false, seq: before, changed: false, field: error.field, error: error.message)
        }
        let (path, previous) = try context.home.replaceModel(with: yaml)
        let report: ReloadReport
        do { report = try await reload() } catch {
            // The running node did not take it: put the file back as it was.
            if rename(previous, path) != 0 { logger.error("cannot restore identity.yaml", metadata: ["from": "\(previous)"]) }
            throw error
        }
        return SaveIdentityReport(saved: true, seq: report.seq, changed: report.changed, field: nil, error: nil)
    }

    private func identityYAML() throws -> String {
        do { return try String(contentsOfFile: context.home.modelFile, encoding: .utf8) } catch {
            throw NodeError("cannot read \(context.home.modelFile): \(error.localizedDescription)")
        }
    }
}

extension NodeRuntime {
    /// A hash of what `status` reports, leaving out the uptime (which changes every second).
    public func homeFingerprint() -> Int {
        var report = status()
        report.uptimeSeconds = 0
        var h = Hasher()
        h.combine(ControlJSON.line(report))
        return h.finalize()
    }
}
