public import Foundation

/// The `kithlog` export: JSON Lines, self-contained (`Protocol/kithlog.md`). Line 1 is
/// `{"format":"kithlog/2","conv":"<hex>","participants":["did:key:…","did:key:…"]}`; then one
/// envelope per line — the header, the manifests the conversation carries, the entries in order,
/// the seals — each with a `view` object of decoded fields for people, which an audit checks
/// against the signed bytes. `kithlog/1` files (no manifests) are still read and audited.
public enum KithLog {
    /// The format this implementation writes.
    public static let format = "kithlog/2"
    /// The formats it reads.
    public static let formats: Set<String> = ["kithlog/1", "kithlog/2"]
    /// Largest file accepted.
    public static let maxFileSize = 256 << 20

    /// The records of one conversation, as read from a file, with what the file claims of them.
    public struct Records: Sendable {
        /// The format tag of line 1.
        public var format: String
        /// The conversation id the file claims.
        public var conv: String
        /// The participants the file claims.
        public var participants: [String]
        /// The signed records, in file order.
        public var records: ConversationRecords
        /// The `view` objects, as written, by file line (1-based) and the record they describe.
        public var views: [(line: Int, record: SignedObject, json: Data)]

        /// The header.
        public var header: SignedObject { records.header }
        /// The entries in file order.
        public var entries: [SignedObject] { records.entries }
        /// The seals.
        public var seals: [SignedObject] { records.seals }
    }

    /// Writes a conversation. The output depends only on the records (manifests ordered by
    /// signer, seq and hash; seals by signer), so both participants' exports of a complete
    /// conversation are byte-identical.
    public static func export(_ records: ConversationRecords) -> String {
        let headerFields = try? ConversationHeader.verify(records.header)
        let participants = [headerFields?.from.did ?? "", headerFields?.to.did ?? ""].sorted()
        var lines = [#"{"format":"\#(format)","conv":"\#(Hex.encode(records.header.hash))","participants":[\#(participants.map { "\"\($0)\"" }.joined(separator: ","))]}"#]
        lines.append(line(records.header))
        let manifests = records.manifests.map { ($0, try? Manifest.verify($0)) }.sorted { x, y in
            let kx = (x.1?.id.bytes ?? [], x.1?.seq ?? 0), ky = (y.1?.id.bytes ?? [], y.1?.seq ?? 0)
            if kx.0 != ky.0 { return kx.0.lexicographicallyPrecedes(ky.0) }
            if kx.1 != ky.1 { return kx.1 < ky.1 }
            return x.0.hash.lexicographicallyPrecedes(y.0.hash)
        }
        for (object, _) in manifests { lines.append(line(object)) }
        for object in records.entries { lines.append(line(object)) }
        let orderedSeals = records.seals.sorted { ((try? ConversationSeal.verify($0))?.by.bytes ?? []).lexicographicallyPrecedes((try? ConversationSeal.verify($1))?.by.bytes ?? []) }
        for object in orderedSeals { lines.append(line(object)) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The decoded fields people read, from the signed bytes alone (nil when they do not decode).
    static func view(of object: SignedObject) -> [String: Any]? {
        switch object.type {
        case ConversationHeader.type:
            return (try? ConversationHeader.verify(object)).map { h in
                ["from": h.from.did, "to": h.to.did, "topic": h.topic, "ts": h.ts, "max_turns": h.maxTurns]
            }
        case Manifest.type:
            return (try? Manifest.verify(object)).map { m in
                ["id": m.id.did, "seq": m.seq, "ts": m.ts, "name": m.name, "model": Hex.encode(m.model)]
            }
        case ConversationEntry.type:
            return (try? ConversationEntry.decode(object)).map { e in
                var view: [String: Any] = ["seq": e.seq, "author": e.author.did, "kind": e.kind.rawValue, "text": e.text, "ts": e.ts,
                                           "hash": Hex.encode(object.hash)]
                if let producer = e.producer {
                    view["by"] = producer.kind.rawValue
                    if producer.kind == .ai { view["engine"] = producer.engine }
                }
                return view
            }
        case ConversationSeal.type:
            return (try? ConversationSeal.verify(object)).map { s in ["by": s.by.did, "count": s.count, "head": Hex.encode(s.head)] }
        default:
            return nil
        }
    }

    /// Sorted keys, no spaces; nil for anything but a JSON object (Foundation traps on others).
    private static func canonicalJSON(_ object: Any) -> Data? {
        guard object is [String: Any], JSONSerialization.isValidJSONObject(object) else { return nil }
        return try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    private static func line(_ object: SignedObject) -> String {
        let envelope = object.envelopeJSON
        guard let view = view(of: object), let data = canonicalJSON(view) else { return envelope }
        return String(envelope.dropLast()) + #","view":"# + String(decoding: data, as: UTF8.self) + "}"
    }

    /// Reads a kithlog file. Structure problems (bad JSON, unknown format, records out of order)
    /// are reported with their line; cryptographic checks are the auditor's.
    public static func parse(_ data: [UInt8]) throws(LogProblem) -> Records {
        guard data.count <= maxFileSize else { throw LogProblem("file", "larger than \(maxFileSize) bytes") }
        var lines = data.split(separator: 0x0a, omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        guard let first = lines.first, !JSONDuplicateKeys.found(in: Array(first)),
              let meta = try? JSONSerialization.jsonObject(with: Data(first)) as? [String: Any],
              let format = meta["format"] as? String, formats.contains(format)
        else { throw LogProblem("file line 1", "not a kithlog file (the first line must be {\"format\": \"kithlog/2\", …})") }
        guard let conv = meta["conv"] as? String, let participants = meta["participants"] as? [String], participants.count == 2,
              Set(meta.keys) == ["format", "conv", "participants"]
        else { throw LogProblem("file line 1", "exactly format, conv and two participants are required") }
        var header: SignedObject?
        var manifests: [SignedObject] = []
        var entries: [SignedObject] = []
        var seals: [SignedObject] = []
        var views: [(line: Int, record: SignedObject, json: Data)] = []
        for (i, raw) in lines.dropFirst().enumerated() {
            let number = i + 2
            let label = "file line \(number)"
            guard let object = try? JSONSerialization.jsonObject(with: Data(raw)) as? [String: Any], !JSONDuplicateKeys.found(in: Array(raw)),
                  let type = object["type"] as? String, let bytesText = object["bytes"] as? String, let sigText = object["sig"] as? String,
                  Set(object.keys).isSubset(of: ["type", "bytes", "sig", "view"])
            else { throw LogProblem(label, "not an envelope {\"type\", \"bytes\", \"sig\"[, \"view\"]}, each key once") }
            guard let bytes = Base64URL.decode(bytesText), let sig = Base64URL.decode(sigText) else {
                throw LogProblem(label, "bytes or sig is not canonical unpadded base64url")
            }
            let signed: SignedObject
            do { signed = try SignedObject(type: type, bytes: bytes, sig: sig) } catch { throw LogProblem(label, "\(error)") }
            if let view = object["view"] {
                guard let json = canonicalJSON(view) else { throw LogProblem(label, "the view is not a JSON object") }
                views.append((number, signed, json))
            }
            switch type {
            case ConversationHeader.type:
                guard header == nil else { throw LogProblem(label, "a header must come first, once") }
                header = signed
            case Manifest.type:
                guard format != "kithlog/1" else { throw LogProblem(label, "kithlog/1 files carry no manifests") }
                guard header != nil, entries.isEmpty, seals.isEmpty else { throw LogProblem(label, "manifests must follow the header and precede the entries") }
                manifests.append(signed)
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
        return Records(format: format, conv: conv, participants: participants,
                       records: ConversationRecords(header: header, manifests: manifests, entries: entries, seals: seals), views: views)
    }

    /// Audits a parsed file: the claims of line 1 and every `view` against the signed bytes,
    /// then ``ConversationLog/audit(_:now:)``.
    public static func audit(_ file: Records, now: UInt64? = nil) -> AuditResult {
        var problems: [LogProblem] = []
        if file.conv != Hex.encode(file.header.hash) {
            problems.append(LogProblem("file line 1", "conv does not match the header's hash"))
        }
        if let h = try? ConversationHeader.verify(file.header), file.participants != [h.from.did, h.to.did].sorted() {
            problems.append(LogProblem("file line 1", "participants do not match the header"))
        }
        for (number, record, json) in file.views {
            if view(of: record).flatMap(canonicalJSON) != json {
                problems.append(LogProblem("file line \(number)", "the view does not match the signed bytes (the readable fields were altered)"))
            }
        }
        var result = ConversationLog.audit(file.records, now: now)
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
            out.append("<sub>#\(e.seq) · \(iso(e.ts)) · \(e.producer.map { "by \($0) · " } ?? "")\(Hex.encode(object.hash).prefix(16))</sub>")
            out.append("")
        }
        for p in log.participants {
            out.append(log.seals[p] != nil ? "Sealed by \(who(p))." : "Not sealed by \(who(p)).")
        }
        return out.joined(separator: "\n") + "\n"
    }

    static func iso(_ ms: UInt64) -> String { ConversationLog.iso(ms) }
}
