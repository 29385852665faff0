import Foundation

/// The `kithlog/1` export: JSON Lines, self-contained (`Protocol/kithlog.md`). Line 1 is
/// `{"format":"kithlog/1","conv":"<hex>","participants":["did:key:…","did:key:…"]}`; then one
/// envelope per line — the header, the entries in order, the seals — each optionally carrying a
/// `view` object of decoded fields that auditors ignore.
public enum KithLog {
    /// The format tag.
    public static let format = "kithlog/1"
    /// Largest file accepted.
    public static let maxFileSize = 256 << 20

    /// The records of one conversation, as read from a file.
    public struct Records: Sendable {
        /// The conversation id the file claims.
        public var conv: String
        /// The participants the file claims.
        public var participants: [String]
        /// The header.
        public var header: SignedObject
        /// The entries in file order.
        public var entries: [SignedObject]
        /// The seals.
        public var seals: [SignedObject]
    }

    /// Writes a conversation. The output depends only on the records, so both participants'
    /// exports of a complete conversation are byte-identical.
    public static func export(header: SignedObject, entries: [SignedObject], seals: [SignedObject]) -> String {
        let headerFields = try? ConversationHeader.verify(header)
        let participants = [headerFields?.from.did ?? "", headerFields?.to.did ?? ""].sorted()
        var lines = [#"{"format":"\#(format)","conv":"\#(Hex.encode(header.hash))","participants":[\#(participants.map { "\"\($0)\"" }.joined(separator: ","))]}"#]
        lines.append(line(header, view: headerFields.map { h in
            ["from": h.from.did, "to": h.to.did, "topic": h.topic, "ts": h.ts, "max_turns": h.maxTurns]
        }))
        for object in entries {
            lines.append(line(object, view: (try? ConversationEntry.decode(object)).map { e in
                ["seq": e.seq, "author": e.author.did, "kind": e.kind.rawValue, "text": e.text, "ts": e.ts, "hash": Hex.encode(object.hash)]
            }))
        }
        let orderedSeals = seals.sorted { ((try? ConversationSeal.verify($0))?.by.bytes ?? []).lexicographicallyPrecedes((try? ConversationSeal.verify($1))?.by.bytes ?? []) }
        for object in orderedSeals {
            lines.append(line(object, view: (try? ConversationSeal.verify(object)).map { s in
                ["by": s.by.did, "count": s.count, "head": Hex.encode(s.head)]
            }))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func line(_ object: SignedObject, view: [String: Any]?) -> String {
        let envelope = object.envelopeJSON
        guard let view, let data = try? JSONSerialization.data(withJSONObject: view, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            return envelope
        }
        return String(envelope.dropLast()) + #","view":"# + String(decoding: data, as: UTF8.self) + "}"
    }

    /// Reads a kithlog file. Structure problems (bad JSON, unknown format, records out of order)
    /// are reported with their line; cryptographic checks are the auditor's.
    public static func parse(_ data: [UInt8]) throws(LogProblem) -> Records {
        guard data.count <= maxFileSize else { throw LogProblem("file", "larger than \(maxFileSize) bytes") }
        var lines = data.split(separator: 0x0a, omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        guard let first = lines.first,
              let meta = try? JSONSerialization.jsonObject(with: Data(first)) as? [String: Any],
              meta["format"] as? String == format
        else { throw LogProblem("file line 1", "not a kithlog/1 file (the first line must be {\"format\": \"kithlog/1\", …})") }
        guard let conv = meta["conv"] as? String, let participants = meta["participants"] as? [String], participants.count == 2 else {
            throw LogProblem("file line 1", "conv and two participants are required")
        }
        var header: SignedObject?
        var entries: [SignedObject] = []
        var seals: [SignedObject] = []
        for (i, raw) in lines.dropFirst().enumerated() {
            let label = "file line \(i + 2)"
            guard let object = try? JSONSerialization.jsonObject(with: Data(raw)) as? [String: Any],
                  let type = object["type"] as? String, let bytesText = object["bytes"] as? String, let sigText = object["sig"] as? String,
                  Set(object.keys).isSubset(of: ["type", "bytes", "sig", "view"])
            else { throw LogProblem(label, "not an envelope {\"type\", \"bytes\", \"sig\"[, \"view\"]}") }
            guard let bytes = Base64URL.decode(bytesText), let sig = Base64URL.decode(sigText) else {
                throw LogProblem(label, "bytes or sig is not canonical unpadded base64url")
            }
            let signed: SignedObject
            do { signed = try SignedObject(type: type, bytes: bytes, sig: sig) } catch { throw LogProblem(label, "\(error)") }
            switch type {
            case ConversationHeader.type:
                guard header == nil, entries.isEmpty, seals.isEmpty else { throw LogProblem(label, "a header must come first, once") }
                header = signed
            case ConversationEntry.type:
                guard header != nil, seals.isEmpty else { throw LogProblem(label, "entries must follow the header and precede the seals") }
                entries.append(signed)
            case ConversationSeal.type:
                guard header != nil else { throw LogProblem(label, "a seal before the header") }
                seals.append(signed)
            default:
                throw LogProblem(label, "unknown record type '\(type)'")
            }
        }
        guard let header else { throw LogProblem("file", "no header") }
        return Records(conv: conv, participants: participants, header: header, entries: entries, seals: seals)
    }

    /// Audits a parsed file: the claims of line 1 against the header, then ``ConversationLog/audit``.
    public static func audit(_ records: Records) -> AuditResult {
        var problems: [LogProblem] = []
        if records.conv != Hex.encode(records.header.hash) {
            problems.append(LogProblem("file line 1", "conv does not match the header's hash"))
        }
        if let h = try? ConversationHeader.verify(records.header), records.participants != [h.from.did, h.to.did].sorted() {
            problems.append(LogProblem("file line 1", "participants do not match the header"))
        }
        var result = ConversationLog.audit(header: records.header, entries: records.entries, seals: records.seals)
        result.problems = problems + result.problems
        if !problems.isEmpty { result.isComplete = false }
        return result
    }

    /// A readable Markdown transcript.
    public static func markdown(_ log: ConversationLog, names: [Identity: String]) -> String {
        func who(_ id: Identity) -> String { names[id].map { "\($0) (\(id.did.prefix(16))…)" } ?? id.did }
        var out = ["# \(log.header.topic.isEmpty ? "Conversation" : log.header.topic)", ""]
        out.append("- conversation: `\(Hex.encode(log.id))`")
        out.append("- started by \(who(log.header.from)) with \(who(log.header.to)) at \(iso(log.header.ts))")
        out.append("- state: \(log.isComplete ? "complete, sealed by both" : log.isEnded ? "ended, waiting for seals" : "open")")
        out.append("")
        for (object, e) in log.entries {
            let tag = e.kind == .say ? "" : " _(\(e.kind.rawValue))_"
            out.append("**\(names[e.author] ?? String(e.author.did.prefix(20)))**\(tag): \(e.text)")
            out.append("<sub>#\(e.seq) · \(iso(e.ts)) · \(Hex.encode(object.hash).prefix(16))</sub>")
            out.append("")
        }
        for p in log.participants {
            out.append(log.seals[p] != nil ? "Sealed by \(who(p))." : "Not sealed by \(who(p)).")
        }
        return out.joined(separator: "\n") + "\n"
    }

    static func iso(_ ms: UInt64) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(ms) / 1000))
    }
}
