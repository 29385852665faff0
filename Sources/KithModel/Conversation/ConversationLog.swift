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

    /// Starts a log from a header (verified here).
    public init(header object: SignedObject) throws(LogProblem) {
        do { header = try ConversationHeader.verify(object) } catch { throw LogProblem("header", "\(error)") }
        headerObject = object
        id = object.hash
        headHash = id
    }

    /// The initiator and the responder.
    public var participants: [Identity] { [header.from, header.to] }

    /// The other participant.
    public func other(than me: Identity) -> Identity { me == header.from ? header.to : header.from }

    /// The next entry's seq.
    public var nextSeq: UInt64 { UInt64(entries.count) + 1 }

    /// True once a `close` (or a refusal: `decline` at seq 2) ended the conversation.
    public var isEnded: Bool {
        guard let last = entries.last?.entry else { return false }
        return last.kind == .close || (last.kind == .decline && last.seq == 2)
    }

    /// Who writes the next entry (either side may `close` instead), or nil once ended.
    public var nextAuthor: Identity? {
        guard !isEnded else { return nil }
        guard let last = entries.last?.entry else { return header.from }
        return other(than: last.author)
    }

    /// True when the turn limit leaves only a `close`.
    public var onlyCloseAllowed: Bool { UInt64(entries.count) >= header.maxTurns }

    /// True when both participants sealed the current head.
    public var isComplete: Bool {
        isEnded && participants.allSatisfy { seals[$0]?.seal.head == headHash && seals[$0]?.seal.count == UInt64(entries.count) }
    }

    /// Appends a received or own entry after checking its signature (unless `signatureChecked`)
    /// and every chain rule.
    public mutating func append(_ object: SignedObject, signatureChecked: Bool = false) throws(LogProblem) {
        let label = "entry \(entries.count + 1)"
        let entry: ConversationEntry
        do {
            entry = signatureChecked ? try ConversationEntry.decode(object) : try ConversationEntry.verify(object)
        } catch {
            throw LogProblem(label, "\(error)")
        }
        try check(entry, label: label)
        entries.append((object, entry))
        headHash = object.hash
    }

    /// Appends an entry already decoded and signature-checked, with its precomputed hash
    /// (the audit's parallel phase did that work).
    mutating func appendChecked(_ object: SignedObject, entry: ConversationEntry, hash: [UInt8]) throws(LogProblem) {
        try check(entry, label: "entry \(entries.count + 1)")
        entries.append((object, entry))
        headHash = hash
    }

    private func check(_ entry: ConversationEntry, label: String) throws(LogProblem) {
        guard entry.conv == id else { throw LogProblem(label, "belongs to another conversation (conv does not match this header)") }
        guard entry.seq == nextSeq else { throw LogProblem(label, "seq is \(entry.seq), expected \(nextSeq) (missing, repeated or reordered entries)") }
        guard entry.prev == headHash else {
            throw LogProblem(label, entry.seq == 1 ? "prev must be the conversation id" : "prev is not the hash of entry \(entry.seq - 1) (the chain is broken)")
        }
        guard participants.contains(entry.author) else { throw LogProblem(label, "author \(entry.author.did) is not a participant") }
        guard !isEnded else { throw LogProblem(label, "written after the conversation ended") }
        if let last = entries.last?.entry {
            if entry.author == last.author && entry.kind != .close {
                throw LogProblem(label, "turns must alternate: \(entry.author.did) wrote entry \(last.seq) too")
            }
            if (entry.kind == .accept || (entry.kind == .decline && entry.seq > 2)) && last.kind != .propose {
                throw LogProblem(label, "\(entry.kind.rawValue) must answer a propose")
            }
        } else if entry.author != header.from {
            throw LogProblem(label, "the initiator writes entry 1")
        }
        if entry.kind == .decline && entry.seq == 1 { throw LogProblem(label, "entry 1 cannot be a decline") }
        if onlyCloseAllowed && entry.kind != .close {
            throw LogProblem(label, "over max_turns (\(header.maxTurns)): only a close may follow")
        }
    }

    /// Adds a seal after checking its signature and that it covers this log's current head.
    public mutating func addSeal(_ object: SignedObject) throws(LogProblem) {
        let seal: ConversationSeal
        do { seal = try ConversationSeal.verify(object) } catch { throw LogProblem("seal", "\(error)") }
        let label = "seal by \(seal.by.did)"
        guard seal.conv == id else { throw LogProblem(label, "belongs to another conversation") }
        guard participants.contains(seal.by) else { throw LogProblem(label, "the signer is not a participant") }
        guard isEnded else { throw LogProblem(label, "sealed before the conversation ended with a close") }
        guard seal.count == UInt64(entries.count) else {
            throw LogProblem(label, "covers \(seal.count) entries but the log has \(entries.count) (truncated or extended)")
        }
        guard seal.head == headHash else { throw LogProblem(label, "head is not the hash of the last entry") }
        if let held = seals[seal.by], held.object != object { throw LogProblem(label, "a second, different seal by the same participant") }
        seals[seal.by] = (object, seal)
    }

    /// Builds and signs the next entry for `key`'s owner.
    public func makeEntry(key: Ed25519.KeyPair, kind: ConversationEntry.Kind, text: String, model: [UInt8], disclosed: [[UInt8]],
                          ts: UInt64) -> SignedObject {
        ConversationEntry(conv: id, seq: nextSeq, prev: headHash, author: Identity(publicKey: key.publicKey), ts: ts, kind: kind,
                          text: text, model: model, disclosed: disclosed).signed(with: key)
    }

    /// Builds and signs this participant's seal over the current head.
    public func makeSeal(key: Ed25519.KeyPair) -> SignedObject {
        ConversationSeal(conv: id, head: headHash, count: UInt64(entries.count), by: Identity(publicKey: key.publicKey)).signed(with: key)
    }
}

extension ConversationLog {
    /// Audits a complete record set: verifies every signature in parallel, then replays the log
    /// through every rule. Returns the log as far as it is valid and all problems found.
    public static func audit(header: SignedObject, entries: [SignedObject], seals: [SignedObject]) -> (log: ConversationLog?, problems: [LogProblem]) {
        var problems: [LogProblem] = []
        let log: ConversationLog
        do { log = try ConversationLog(header: header) } catch {
            return (nil, [error])
        }
        // Decoding, hashing and signatures first, in parallel: each entry names its author, so
        // each check is independent. The replay below is then cheap and sequential.
        let checked = ParallelVerifier.verifyEntries(entries)
        var replay = log
        var broken = false
        for (i, object) in entries.enumerated() {
            guard let (entry, hash) = checked[i] else {
                problems.append(LogProblem("entry \(i + 1)", "bad signature or malformed (altered bytes, or not signed by its author)"))
                broken = true
                continue
            }
            guard !broken else { continue }
            do { try replay.appendChecked(object, entry: entry, hash: hash) } catch {
                problems.append(error)
                broken = true
            }
        }
        if !broken {
            for object in seals {
                do { try replay.addSeal(object) } catch { problems.append(error) }
            }
            if problems.isEmpty {
                if !replay.isEnded {
                    problems.append(LogProblem("log", "the conversation is still open: no close"))
                } else {
                    for p in replay.participants where replay.seals[p] == nil {
                        problems.append(LogProblem("log", "missing the seal by \(p.did): truncation cannot be ruled out"))
                    }
                }
            }
        }
        return (replay, problems)
    }
}

/// Decodes, hashes and verifies entries on every core.
enum ParallelVerifier {
    static func verifyEntries(_ objects: [SignedObject]) -> [(ConversationEntry, [UInt8])?] {
        let results = UnsafeMutableBufferPointer<(ConversationEntry, [UInt8])?>.allocate(capacity: objects.count)
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
                // Each iteration writes only its own slots.
                if let entry = try? ConversationEntry.verify(objects[i]) { out[i] = (entry, objects[i].hash) }
            }
        }
        return Array(results)
    }
}
