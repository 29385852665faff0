import Foundation
public import KithCrypto

/// A problem found in a conversation log: which record, and what is wrong.
public struct LogProblem: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    /// The record: `header`, `entry 3`, `seal by did:key:…`, `file line 4`, or `log`.
    public var record: String
    /// What is wrong.
    public var message: String

    /// Creates a problem.
    public init(_ record: String, _ message: String) {
        self.record = record
        self.message = message
    }

    public var description: String { "\(record): \(message)" }
}

/// A conversation as a validated, hash-chained log: the header, the entries in order and the
/// seals. Every append checks every rule of `Protocol/conversation.md`, so a log that exists is
/// valid; auditing replays a log through it.
public struct ConversationLog: Sendable {
    /// The signed header.
    public let headerObject: SignedObject
    /// Its fields.
    public let header: ConversationHeader
    /// The conversation id: the header's hash.
    public let id: [UInt8]
    /// The entries, in order.
    public private(set) var entries: [(object: SignedObject, entry: ConversationEntry)] = []
    /// The seals, by signer.
    public private(set) var seals: [Identity: (object: SignedObject, seal: ConversationSeal)] = [:]
    /// Hash of the last entry (the conversation id before the first).
    public private(set) var headHash: [UInt8]
    /// The participants' manifests the conversation carries, in the order they came: each
    /// version 2 entry's `model` is the `model` of one of its author's.
    public private(set) var manifests: [(object: SignedObject, manifest: Manifest)] = []
    /// What the entry rules need of each manifest: its author (0 or 1), model and time.
    private var models: [(author: UInt8, model: Digest, ts: UInt64)] = []

    /// How far apart two clocks may be, in ms (10 minutes): an entry may carry a time this much
    /// before its header, a version 1 entry this much before the entry it follows, and a
    /// manifest may be dated this much after the entry that uses it.
    public static let clockSkew: UInt64 = 600_000
    /// How long a conversation may run, in ms (30 days): no entry is dated later after its header.
    public static let lifetime: UInt64 = 30 * 86_400_000
    /// Most manifests one participant may bring into one conversation.
    public static let maxManifestsPerParticipant = 8
    /// The model commitment of an entry the node wrote by a rule (`by` = `node`): no model spoke.
    public static let nodeModel = [UInt8](repeating: 0, count: 32)
    private static let noModel = Digest(nodeModel)

    /// Starts a log from a header (verified here).
    public init(header object: SignedObject) throws(LogProblem) {
        do { header = try ConversationHeader.verify(object) } catch { throw LogProblem("header", "\(error)") }
        headerObject = object
        id = object.hash
        headHash = id
        head = Digest(id)
    }

    /// The initiator and the responder.
    public var participants: [Identity] { [header.from, header.to] }

    /// The other participant.
    public func other(than me: Identity) -> Identity { me == header.from ? header.to : header.from }

    /// The next entry's seq.
    public var nextSeq: UInt64 { UInt64(count) + 1 }

    /// What the chain rules need to know about one entry: no heap storage, so an audit can
    /// collect it for every entry in parallel and replay the rules cheaply.
    struct Facts {
        var convMatches: Bool
        var seq: UInt64
        var prev: Digest
        var hash: Digest
        /// 0 = the initiator, 1 = the responder, 2 = someone else.
        var author: UInt8
        var kind: ConversationEntry.Kind
        var version: UInt64
        var ts: UInt64
        var model: Digest
        var byNode: Bool

        init(_ entry: ConversationEntry, hash: [UInt8], header: ConversationHeader, id: [UInt8]) {
            convMatches = entry.conv == id
            seq = entry.seq
            prev = Digest(entry.prev)
            self.hash = Digest(hash)
            author = entry.author == header.from ? 0 : entry.author == header.to ? 1 : 2
            kind = entry.kind
            version = entry.version
            ts = entry.ts
            model = Digest(entry.model)
            byNode = entry.producer?.kind == .node
        }
    }

    /// A 32-byte hash held inline.
    struct Digest: Equatable {
        var a: UInt64, b: UInt64, c: UInt64, d: UInt64
        init(_ bytes: [UInt8]) {
            precondition(bytes.count == 32)
            (a, b, c, d) = bytes.withUnsafeBytes {
                ($0.loadUnaligned(fromByteOffset: 0, as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
                 $0.loadUnaligned(fromByteOffset: 16, as: UInt64.self), $0.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
            }
        }
    }

    /// Number of entries (also counted when an audit does not keep them).
    public private(set) var count = 0
    private var last: Facts?
    private var head: Digest

    /// True once a `close` (or a refusal: `decline` at seq 2) ended the conversation.
    public var isEnded: Bool {
        guard let last else { return false }
        return last.kind == .close || (last.kind == .decline && last.seq == 2)
    }

    /// Who writes the next entry (either side may `close` instead), or nil once ended.
    public var nextAuthor: Identity? {
        guard !isEnded else { return nil }
        guard let last else { return header.from }
        return last.author == 0 ? header.to : header.from
    }

    /// True when the turn limit leaves only a `close`.
    public var onlyCloseAllowed: Bool { UInt64(count) >= header.maxTurns }

    /// Where a conversation stands, as stored and shown (`open`, `ended`, `complete`).
    public enum State: String, Sendable, Hashable, Codable {
        /// Entries may follow.
        case open
        /// Ended (close or refusal), not yet sealed by both.
        case ended
        /// Ended and sealed by both over the same head.
        case complete
    }

    /// This log's state.
    public var state: State { isComplete ? .complete : isEnded ? .ended : .open }

    /// True when both participants sealed the current head.
    public var isComplete: Bool {
        isEnded && participants.allSatisfy { seals[$0].map { Digest($0.seal.head) == head && $0.seal.count == UInt64(count) } ?? false }
    }

    /// Appends a received or own entry after checking its signature (unless `signatureChecked`)
    /// and every chain rule.
    public mutating func append(_ object: SignedObject, signatureChecked: Bool = false) throws(LogProblem) {
        let label = "entry \(count + 1)"
        let entry: ConversationEntry
        do {
            entry = signatureChecked ? try ConversationEntry.decode(object) : try ConversationEntry.verify(object)
        } catch {
            throw LogProblem(label, "\(error)")
        }
        let hash = object.hash
        try apply(Facts(entry, hash: hash, header: header, id: id), label: label)
        entries.append((object, entry))
        headHash = hash
    }

    /// Applies one entry's facts: checks every chain rule, then advances the head.
    mutating func apply(_ facts: Facts, label: String) throws(LogProblem) {
        try check(facts, label: label)
        count += 1
        last = facts
        head = facts.hash
    }

    private func check(_ f: Facts, label: String) throws(LogProblem) {
        guard f.convMatches else { throw LogProblem(label, "belongs to another conversation (conv does not match this header)") }
        let expected = UInt64(count) + 1
        guard f.seq == expected else { throw LogProblem(label, "seq is \(f.seq), expected \(expected) (missing, repeated or reordered entries)") }
        guard f.prev == head else {
            throw LogProblem(label, f.seq == 1 ? "prev must be the conversation id" : "prev is not the hash of entry \(f.seq - 1) (the chain is broken)")
        }
        guard f.author < 2 else { throw LogProblem(label, "the author is not a participant") }
        guard !isEnded else { throw LogProblem(label, "written after the conversation ended") }
        if let last {
            if f.author == last.author && f.kind != .close {
                throw LogProblem(label, "turns must alternate: \(participants[Int(f.author)].did) wrote entry \(last.seq) too")
            }
            if (f.kind == .accept || (f.kind == .decline && f.seq > 2)) && last.kind != .propose {
                throw LogProblem(label, "\(f.kind.rawValue) must answer a propose")
            }
        } else if f.author != 0 {
            throw LogProblem(label, "the initiator writes entry 1")
        }
        if f.kind == .decline && f.seq == 1 { throw LogProblem(label, "entry 1 cannot be a decline") }
        try checkTime(f, label: label)
        if f.version >= 2 && f.byNode {
            guard f.model == Self.noModel else { throw LogProblem(label, "written by the node by a rule, so its model commitment must be all zeros") }
        } else if f.version >= 2 {
            guard models.contains(where: { $0.author == f.author && $0.model == f.model && Self.isNotBefore(f.ts, $0.ts, tolerance: Self.clockSkew) }) else {
                throw LogProblem(label, "its model commitment is in no manifest its author signed before it (the conversation carries none that matches)")
            }
        } else if let last, last.version >= 2 {
            throw LogProblem(label, "a version 1 entry after version 2 entries")
        }
        if onlyCloseAllowed && f.kind != .close {
            throw LogProblem(label, "over max_turns (\(header.maxTurns)): only a close may follow")
        }
    }

    /// Times only move forward: after the header (within ``clockSkew``), within ``lifetime`` of
    /// it, and never before the previous entry (version 1 entries: within ``clockSkew``).
    private func checkTime(_ f: Facts, label: String) throws(LogProblem) {
        guard Self.isNotBefore(f.ts, header.ts, tolerance: Self.clockSkew) else {
            throw LogProblem(label, "dated \(Self.iso(f.ts)), before the conversation began (\(Self.iso(header.ts)))")
        }
        guard f.ts < header.ts || f.ts - header.ts <= Self.lifetime else {
            throw LogProblem(label, "dated \(Self.iso(f.ts)), more than 30 days after the conversation began (\(Self.iso(header.ts)))")
        }
        if let last {
            let tolerance = f.version >= 2 ? 0 : Self.clockSkew
            guard Self.isNotBefore(f.ts, last.ts, tolerance: tolerance) else {
                throw LogProblem(label, "dated \(Self.iso(f.ts)), before entry \(last.seq) (\(Self.iso(last.ts))): times must not go back")
            }
        }
    }

    /// `a` is not earlier than `b` by more than `tolerance` (no overflow for any values).
    public static func isNotBefore(_ a: UInt64, _ b: UInt64, tolerance: UInt64) -> Bool {
        a >= b || b - a <= tolerance
    }

    /// A time for people: ISO 8601 in UTC, or the raw number when it is beyond year 9999.
    static func iso(_ ms: UInt64) -> String {
        guard ms < 253_402_300_800_000 else { return "\(ms) ms" }
        return ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(ms / 1000)))
    }

    /// Adds a manifest a participant brought into the conversation, after checking its signature,
    /// that its signer is a participant and its network the header's. Expiry is the receiver's
    /// concern (an audit reads old manifests). Returns false when the log already holds it.
    @discardableResult
    public mutating func addManifest(_ object: SignedObject) throws(LogProblem) -> Bool {
        let manifest: Manifest
        do { manifest = try Manifest.verify(object) } catch { throw LogProblem("manifest", "\(error)") }
        var label: String { "manifest \(manifest.seq) by \(manifest.id.did)" }
        guard let author = participants.firstIndex(of: manifest.id) else { throw LogProblem(label, "the signer is not a participant") }
        guard manifest.net == header.net else { throw LogProblem(label, "for another network than the conversation") }
        if manifests.contains(where: { $0.object == object }) { return false }
        guard manifests.count(where: { $0.manifest.id == manifest.id }) < Self.maxManifestsPerParticipant else {
            throw LogProblem(label, "more than \(Self.maxManifestsPerParticipant) manifests by one participant")
        }
        manifests.append((object, manifest))
        models.append((UInt8(author), Digest(manifest.model), manifest.ts))
        return true
    }

    /// The manifest `author` brought whose model commitment is `model`, if the log holds one.
    public func manifest(of author: Identity, model: [UInt8]) -> SignedObject? {
        manifests.first { $0.manifest.id == author && $0.manifest.model == model }?.object
    }

    /// Adds a seal after checking its signature and that it covers this log's current head.
    public mutating func addSeal(_ object: SignedObject) throws(LogProblem) {
        let seal: ConversationSeal
        do { seal = try ConversationSeal.verify(object) } catch { throw LogProblem("seal", "\(error)") }
        let label = "seal by \(seal.by.did)"
        guard seal.conv == id else { throw LogProblem(label, "belongs to another conversation") }
        guard participants.contains(seal.by) else { throw LogProblem(label, "the signer is not a participant") }
        guard isEnded else { throw LogProblem(label, "sealed before the conversation ended with a close") }
        guard seal.count == UInt64(count) else {
            throw LogProblem(label, "covers \(seal.count) entries but the log has \(count) (truncated or extended)")
        }
        guard Digest(seal.head) == head else { throw LogProblem(label, "head is not the hash of the last entry") }
        if let held = seals[seal.by], held.object != object { throw LogProblem(label, "a second, different seal by the same participant") }
        seals[seal.by] = (object, seal)
    }

    /// Builds and signs the next entry (version 2) for `key`'s owner, dated `ts` or, if that is
    /// earlier, the previous entry's time (times never go back).
    public func makeEntry(key: Ed25519.KeyPair, kind: ConversationEntry.Kind, text: String, model: [UInt8], disclosed: [[UInt8]],
                          ts: UInt64, producer: ConversationEntry.Producer) -> SignedObject {
        ConversationEntry(conv: id, seq: nextSeq, prev: headHash, author: Identity(publicKey: key.publicKey),
                          ts: max(ts, last?.ts ?? 0, header.ts), kind: kind, text: text, model: model, disclosed: disclosed,
                          producer: producer).signed(with: key)
    }

    /// The time of the last entry (the header's before the first).
    public var lastTime: UInt64 { last?.ts ?? header.ts }

    /// Builds and signs this participant's seal over the current head.
    public func makeSeal(key: Ed25519.KeyPair) -> SignedObject {
        ConversationSeal(conv: id, head: headHash, count: UInt64(count), by: Identity(publicKey: key.publicKey)).signed(with: key)
    }
}

/// The outcome of an audit.
public struct AuditResult: Sendable {
    /// The conversation id, when the header verified.
    public var id: [UInt8]?
    /// The header, when it verified.
    public var header: ConversationHeader?
    /// Entries that passed every check, in order.
    public var validEntries: Int
    /// Whether the valid part ends the conversation.
    public var isEnded: Bool
    /// Whether it is ended and sealed by both over the last entry.
    public var isComplete: Bool
    /// Everything found wrong, the first problem first.
    public var problems: [LogProblem]
    /// What the audit could not check, though nothing is wrong (version 1 entries).
    public var notes: [String] = []
}

extension ConversationLog {
    /// No Kith conversation began before 2025-01-01 (ms): an earlier header is refused by audits.
    public static let epoch: UInt64 = 1_735_689_600_000

    /// Audits a complete record set: decodes, hashes and verifies every entry in parallel on
    /// all cores, then replays the rules over compact per-entry facts, then the seals. With
    /// `now`, times must also lie between ``epoch`` and `now` (plus ``clockSkew``).
    public static func audit(_ records: ConversationRecords, now: UInt64? = nil) -> AuditResult {
        var problems: [LogProblem] = []
        var log: ConversationLog
        do { log = try ConversationLog(header: records.header) } catch {
            return AuditResult(id: nil, header: nil, validEntries: 0, isEnded: false, isComplete: false, problems: [error])
        }
        if let now {
            if log.header.ts < epoch { problems.append(LogProblem("header", "dated \(iso(log.header.ts)), before Kith existed (2025)")) }
            if !isNotBefore(now, log.header.ts, tolerance: clockSkew) {
                problems.append(LogProblem("header", "dated \(iso(log.header.ts)), in the future"))
            }
        }
        for object in records.manifests {
            do { try log.addManifest(object) } catch { problems.append(error) }
        }
        let facts = ParallelVerifier.facts(records.entries, header: log.header, id: log.id)
        var broken = !problems.isEmpty
        var versionOne = 0
        for (i, f) in facts.enumerated() {
            guard let f else {
                problems.append(LogProblem("entry \(i + 1)", "bad signature or malformed (altered bytes, or not signed by its author)"))
                broken = true
                continue
            }
            guard !broken else { continue }
            do throws(LogProblem) {
                if let now, !isNotBefore(now, f.ts, tolerance: clockSkew) {
                    throw LogProblem("entry \(i + 1)", "dated \(iso(f.ts)), in the future")
                }
                try log.apply(f, label: "entry \(i + 1)")
                if f.version == 1 { versionOne += 1 }
            } catch {
                problems.append(error)
                broken = true
            }
        }
        if !broken {
            if let lastEntry = records.entries.last { log.headHash = lastEntry.hash }
            for object in records.seals {
                do { try log.addSeal(object) } catch { problems.append(error) }
            }
            if problems.isEmpty {
                if !log.isEnded {
                    problems.append(LogProblem("log", "the conversation is still open: no close"))
                } else {
                    for p in log.participants where log.seals[p] == nil {
                        problems.append(LogProblem("log", "missing the seal by \(p.did): truncation cannot be ruled out"))
                    }
                }
            }
        }
        var result = AuditResult(id: log.id, header: log.header, validEntries: log.count, isEnded: log.isEnded,
                                 isComplete: problems.isEmpty && log.isComplete, problems: problems)
        if versionOne > 0 {
            result.notes.append("\(versionOne) version 1 entries: who produced them and whether their model commitments were published is not recorded")
        }
        return result
    }
}

/// Decodes, hashes and verifies entries on every core, keeping only compact facts.
enum ParallelVerifier {
    static func facts(_ objects: [SignedObject], header: ConversationHeader, id: [UInt8]) -> [ConversationLog.Facts?] {
        let results = UnsafeMutableBufferPointer<ConversationLog.Facts?>.allocate(capacity: objects.count)
        results.initialize(repeating: nil)
        defer {
            results.deinitialize()
            results.deallocate()
        }
        let chunk = 256
        let chunks = (objects.count + chunk - 1) / chunk
        nonisolated(unsafe) let out = results
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            for i in (c * chunk)..<min(objects.count, (c + 1) * chunk) {
                // Each iteration writes only its own slots; the decoded entry is freed right here.
                if let entry = try? ConversationEntry.verify(objects[i]) {
                    out[i] = ConversationLog.Facts(entry, hash: objects[i].hash, header: header, id: id)
                }
            }
        }
        return Array(results)
    }
}
