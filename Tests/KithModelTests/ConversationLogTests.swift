import Foundation
import KithCBOR
import KithCrypto
import KithModel
import KithTestSupport
import Testing

/// Builds conversations between two keys for the audit tests.
struct ConversationFixture {
    /// 2025-12-01, when the fixtures' conversations begin.
    static let start: UInt64 = 1_764_547_200_000
    static let model = [UInt8](repeating: 1, count: 32)
    let adaSpeaker = Speaker(name: "Ada", ts: start - 1_000, model: model)
    let cleoSpeaker = Speaker(name: "Cleo", ts: start - 1_000, model: model)
    var ada: Ed25519.KeyPair { adaSpeaker.key }
    var cleo: Ed25519.KeyPair { cleoSpeaker.key }
    var adaID: Identity { adaSpeaker.identity }
    var cleoID: Identity { cleoSpeaker.identity }

    /// A log with both participants' manifests, as conversations carry them.
    func log(topic: String = "poetry", maxTurns: UInt64 = 20) throws -> ConversationLog {
        var log = try ConversationLog(header: ConversationHeader(from: adaID, to: cleoID, topic: topic, ts: Self.start, net: .main,
                                                                 maxTurns: maxTurns).signed(with: ada))
        try log.addManifest(adaSpeaker.manifest)
        try log.addManifest(cleoSpeaker.manifest)
        return log
    }

    /// A complete conversation: `turns` alternating says, a close by Cleo, both seals.
    func complete(turns: Int = 6, topic: String = "poetry", maxTurns: UInt64 = 20) throws -> ConversationLog {
        var log = try log(topic: topic, maxTurns: maxTurns)
        for i in 0..<turns {
            let key = i % 2 == 0 ? ada : cleo
            try log.append(log.makeEntry(key: key, kind: .say, text: "turn \(i + 1)", model: Self.model,
                                         disclosed: [], ts: Self.start + 2_000 + UInt64(i), producer: .ai(engine: "test")))
        }
        let closer = turns % 2 == 0 ? ada : cleo
        try log.append(log.makeEntry(key: closer, kind: .close, text: "bye", model: Self.model, disclosed: [], ts: Self.start + 3_000,
                                     producer: .person))
        try log.addSeal(log.makeSeal(key: ada))
        try log.addSeal(log.makeSeal(key: cleo))
        return log
    }

    static func export(_ log: ConversationLog) -> [UInt8] {
        Array(KithLog.export(ConversationRecords(log)).utf8)
    }

    static func audit(_ bytes: [UInt8]) -> [LogProblem] {
        do {
            let records = try KithLog.parse(bytes)
            return KithLog.audit(records, now: ConversationFixture.start + 86_400_000).problems
        } catch {
            return [error]
        }
    }
}

@Suite("Conversation logs and audit")
struct ConversationLogTests {
    @Test func aCompleteConversationAuditsClean() throws {
        let log = try ConversationFixture().complete()
        #expect(log.isComplete)
        let file = ConversationFixture.export(log)
        #expect(ConversationFixture.audit(file).isEmpty)
        // The id is the header's hash and the chain links every entry to the one before.
        #expect(log.id == BLAKE2b.hash(log.headerObject.bytes, log.headerObject.sig))
        #expect(log.entries[0].entry.prev == log.id)
        #expect(log.entries[3].entry.prev == log.entries[2].object.hash)
    }

    @Test func everySingleByteChangeInsideAnyRecordIsRejected() throws {
        let log = try ConversationFixture().complete(turns: 3)
        let records = [log.headerObject] + log.manifests.map(\.object) + log.entries.map(\.object) + log.participants.compactMap { log.seals[$0]?.object }
        var accepted = 0
        var checked = 0
        for (r, record) in records.enumerated() {
            let combined = record.bytes + record.sig
            for i in combined.indices {
                for delta: UInt8 in [0x01, 0x10, 0x80] {
                    var changed = combined
                    changed[i] ^= delta
                    guard let altered = try? SignedObject(type: record.type, bytes: Array(changed[..<record.bytes.count]),
                                                          sig: Array(changed[record.bytes.count...])) else { continue }
                    var all = records
                    all[r] = altered
                    let result = ConversationLog.audit(ConversationRecords(header: all[0], manifests: Array(all[1..<3]),
                                                                           entries: Array(all[3..<3 + log.entries.count]),
                                                                           seals: Array(all[(3 + log.entries.count)...])))
                    checked += 1
                    if result.problems.isEmpty { accepted += 1 }
                }
            }
        }
        #expect(checked > 5_000)
        #expect(accepted == 0)
    }

    @Test func droppedSwappedAndSplicedLinesAreRejectedWithTheRightReason() throws {
        let fixture = ConversationFixture()
        let log = try fixture.complete(turns: 6)
        let lines = ConversationFixture.export(log).split(separator: 0x0a).map(Array.init)
        func audit(_ lines: [[UInt8]]) -> [LogProblem] { ConversationFixture.audit(Array(lines.joined(separator: [0x0a]))) }

        // Dropping an entry from the middle breaks seq.
        var dropped = lines
        dropped.remove(at: 6)  // meta, header, two manifests, e1, e2, [e3]…
        #expect(audit(dropped).first?.record == "entry 3")
        #expect(audit(dropped).first?.message.contains("seq is 4, expected 3") == true)
        // Dropping the last entry and its seals is truncation: the seals no longer match.
        var truncated = lines
        truncated.remove(at: 10)  // the close
        #expect(audit(truncated).contains { $0.message.contains("covers 7 entries but the log has 6") || $0.message.contains("ended") })
        // Swapping two entries.
        var swapped = lines
        swapped.swapAt(5, 6)
        #expect(audit(swapped).first?.record == "entry 2")
        #expect(audit(swapped).first?.message.contains("seq is 3, expected 2") == true)
        // Dropping a seal: incomplete.
        var unsealed = lines
        unsealed.removeLast()
        #expect(audit(unsealed).first?.message.contains("missing the seal") == true)
        // An entry spliced in from another conversation between the same two people.
        let other = try fixture.complete(turns: 6, topic: "climbing")
        let otherLines = ConversationFixture.export(other).split(separator: 0x0a).map(Array.init)
        var spliced = lines
        spliced[7] = otherLines[7]
        #expect(audit(spliced).first?.message.contains("another conversation") == true)
        // A header from another conversation: line 1 no longer matches.
        var foreignHeader = lines
        foreignHeader[1] = otherLines[1]
        #expect(audit(foreignHeader).first?.message.contains("conv does not match") == true)
    }

    @Test func chainRulesAreEnforcedOnAppend() throws {
        let f = ConversationFixture()
        var log = try f.log(topic: "t", maxTurns: 3)
        let model = ConversationFixture.model
        // The responder cannot write first.
        #expect { try log.append(log.makeEntry(key: f.cleo, kind: .say, text: "x", model: model, disclosed: [], ts: ConversationFixture.start + 1, producer: .ai(engine: "test"))) }
            throws: { ($0 as? LogProblem)?.message.contains("initiator writes entry 1") == true }
        try log.append(log.makeEntry(key: f.ada, kind: .say, text: "hi", model: model, disclosed: [], ts: ConversationFixture.start + 1, producer: .ai(engine: "test")))
        // No two turns in a row.
        #expect { try log.append(log.makeEntry(key: f.ada, kind: .say, text: "again", model: model, disclosed: [], ts: ConversationFixture.start + 2, producer: .ai(engine: "test"))) }
            throws: { ($0 as? LogProblem)?.message.contains("alternate") == true }
        // A non-participant cannot write.
        let eve = Ed25519.KeyPair.generate()
        #expect { try log.append(log.makeEntry(key: eve, kind: .say, text: "psst", model: model, disclosed: [], ts: ConversationFixture.start + 2, producer: .ai(engine: "test"))) }
            throws: { ($0 as? LogProblem)?.message.contains("not a participant") == true }
        // Accept must answer a propose.
        #expect { try log.append(log.makeEntry(key: f.cleo, kind: .accept, text: "yes", model: model, disclosed: [], ts: ConversationFixture.start + 2, producer: .ai(engine: "test"))) }
            throws: { ($0 as? LogProblem)?.message.contains("must answer a propose") == true }
        // Oversized text is refused when decoding.
        let big = ConversationEntry(conv: log.id, seq: 2, prev: log.headHash, author: f.cleoID, ts: ConversationFixture.start + 2, kind: .say,
                                    text: String(repeating: "x", count: 4097), model: model, disclosed: [], producer: .person).signed(with: f.cleo)
        #expect(throws: LogProblem.self) { try log.append(big) }
        try log.append(log.makeEntry(key: f.cleo, kind: .say, text: "hello", model: model, disclosed: [], ts: ConversationFixture.start + 2, producer: .ai(engine: "test")))
        try log.append(log.makeEntry(key: f.ada, kind: .say, text: "three", model: model, disclosed: [], ts: ConversationFixture.start + 3, producer: .ai(engine: "test")))
        // max_turns 3 reached: only a close may follow (by either side).
        #expect(log.onlyCloseAllowed)
        #expect { try log.append(log.makeEntry(key: f.cleo, kind: .say, text: "four", model: model, disclosed: [], ts: ConversationFixture.start + 4, producer: .ai(engine: "test"))) }
            throws: { ($0 as? LogProblem)?.message.contains("max_turns") == true }
        // Sealing before the close is refused.
        #expect(throws: LogProblem.self) { try log.addSeal(log.makeSeal(key: f.ada)) }
        try log.append(log.makeEntry(key: f.ada, kind: .close, text: "bye", model: model, disclosed: [], ts: ConversationFixture.start + 4, producer: .ai(engine: "test")))
        // Nothing after the close.
        #expect { try log.append(log.makeEntry(key: f.cleo, kind: .say, text: "wait", model: model, disclosed: [], ts: ConversationFixture.start + 5, producer: .ai(engine: "test"))) }
            throws: { ($0 as? LogProblem)?.message.contains("after the conversation ended") == true }
        try log.addSeal(log.makeSeal(key: f.ada))
        #expect(!log.isComplete)
        try log.addSeal(log.makeSeal(key: f.cleo))
        #expect(log.isComplete)
    }

    @Test func aRefusalIsADeclineAtSeq2() throws {
        let f = ConversationFixture()
        var log = try f.log(topic: "t", maxTurns: 5)
        let model = ConversationFixture.model
        try log.append(log.makeEntry(key: f.ada, kind: .say, text: "hi", model: model, disclosed: [], ts: ConversationFixture.start + 1, producer: .ai(engine: "test")))
        try log.append(log.makeEntry(key: f.cleo, kind: .decline, text: "not today", model: model, disclosed: [], ts: ConversationFixture.start + 2, producer: .ai(engine: "test")))
        #expect(log.isEnded)
        try log.addSeal(log.makeSeal(key: f.cleo))
        try log.addSeal(log.makeSeal(key: f.ada))
        #expect(log.isComplete)
    }

    @Test func malformedFilesAreReportedByLine() {
        #expect(ConversationFixture.audit(Array("hello\n".utf8)).first?.record == "file line 1")
        let meta = #"{"format":"kithlog/1","conv":"00","participants":["a","b"]}"#
        #expect(ConversationFixture.audit(Array((meta + "\n{\"type\":\"entry\",\"bytes\":\"AA\",\"sig\":\"AA\"}\n").utf8)).first?.record == "file line 2")
    }

    // MARK: - An audit that tells the truth (issue 13 item 5)

    /// Replaces one field of the `view` on `line` and returns the file.
    static func rewriteView(_ file: [UInt8], line: Int, key: String, to value: Any) throws -> [UInt8] {
        var lines = file.split(separator: 0x0a).map(Array.init)
        var object = try #require(try JSONSerialization.jsonObject(with: Data(lines[line])) as? [String: Any])
        var view = try #require(object["view"] as? [String: Any])
        view[key] = value
        object["view"] = view
        lines[line] = Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
        return Array(lines.joined(separator: [0x0a])) + [0x0a]
    }

    @Test func aRewrittenReadableFieldFailsTheAudit() throws {
        let file = ConversationFixture.export(try ConversationFixture().complete(turns: 4))
        #expect(ConversationFixture.audit(file).isEmpty)
        let rewrites: [(Int, String, Any)] = [
            (4, "text", "I never said that"),       // entry 1's words
            (4, "by", "person"),                    // who produced it
            (5, "author", "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"),
            (1, "topic", "something else"),         // the header
            (2, "name", "Mallory"),                 // a manifest
            (9, "count", 99),                       // a seal
        ]
        for (line, key, value) in rewrites {
            let problems = ConversationFixture.audit(try Self.rewriteView(file, line: line, key: key, to: value))
            #expect(problems.first == LogProblem("file line \(line + 1)", "the view does not match the signed bytes (the readable fields were altered)"),
                    "\(key): \(problems)")
        }
        // A view that was removed is fine: the signed bytes say everything.
        var lines = file.split(separator: 0x0a).map(Array.init)
        var entry = try #require(try JSONSerialization.jsonObject(with: Data(lines[4])) as? [String: Any])
        entry["view"] = nil
        lines[4] = Array(try JSONSerialization.data(withJSONObject: entry, options: [.sortedKeys]))
        #expect(ConversationFixture.audit(Array(lines.joined(separator: [0x0a])) + [0x0a]).isEmpty)
    }

    @Test func entryTimesMustBeSaneAndNeverGoBack() throws {
        let f = ConversationFixture()
        let start = ConversationFixture.start
        func attempt(_ times: [UInt64], headerTs: UInt64 = ConversationFixture.start, now: UInt64 = ConversationFixture.start + 86_400_000) throws -> [LogProblem] {
            var log = try ConversationLog(header: ConversationHeader(from: f.adaID, to: f.cleoID, topic: "t", ts: headerTs, net: .main, maxTurns: 9)
                .signed(with: f.ada))
            try log.addManifest(f.adaSpeaker.manifest)
            try log.addManifest(f.cleoSpeaker.manifest)
            var prev = log.id
            var objects: [SignedObject] = []
            for (i, ts) in times.enumerated() {
                let key = i % 2 == 0 ? f.ada : f.cleo
                let object = ConversationEntry(conv: log.id, seq: UInt64(i + 1), prev: prev, author: Identity(publicKey: key.publicKey), ts: ts,
                                               kind: i == times.count - 1 ? .close : .say, text: "t", model: ConversationFixture.model,
                                               disclosed: [], producer: .ai(engine: "test")).signed(with: key)
                prev = object.hash
                objects.append(object)
            }
            return ConversationLog.audit(ConversationRecords(header: log.headerObject, manifests: log.manifests.map(\.object), entries: objects,
                                                             seals: []), now: now).problems.filter { $0.record != "log" }
        }
        #expect(try attempt([start + 1, start + 2, start + 3]).isEmpty)
        #expect(try attempt([start + 1, 0, start + 3]).first?.message.contains("before the conversation began") == true)
        #expect(try attempt([start + 1, 4_102_444_800_000]).first?.message.contains("in the future") == true)
        #expect(try attempt([start + 1, 4_102_444_800_000], now: 4_200_000_000_000).first?.message.contains("more than 30 days after") == true)
        #expect(try attempt([start + 5, start + 4]).first?.message.contains("times must not go back") == true)
        #expect(try attempt([start + 2 * 86_400_000]).first?.message.contains("in the future") == true)
        #expect(try attempt([1_000, 1_001], headerTs: 1_000).first?.message.contains("before Kith existed") == true)
        #expect(try attempt([start + 40 * 86_400_000], headerTs: start + 40 * 86_400_000).first?.message.contains("in the future") == true)
    }

    @Test func aModelCommitmentNoManifestCarriesFailsTheAudit() throws {
        let f = ConversationFixture()
        var log = try f.log()
        // Ada signs an entry claiming a model her manifest does not carry.
        let object = log.makeEntry(key: f.ada, kind: .say, text: "hi", model: [UInt8](repeating: 6, count: 32), disclosed: [],
                                   ts: ConversationFixture.start + 1, producer: .ai(engine: "test"))
        #expect(throws: LogProblem.self) { try log.append(object) }
        // And from a file: the manifests removed, every entry fails.
        let complete = try f.complete(turns: 2)
        var records = ConversationRecords(complete)
        records.manifests = [records.manifests[1]]  // only Cleo's
        let audit = ConversationLog.audit(records)
        #expect(audit.problems.first?.record == "entry 1" && audit.problems.first?.message.contains("model commitment") == true)
        // A manifest by a stranger or for another network cannot stand in.
        let stranger = Speaker(model: ConversationFixture.model)
        records.manifests = [stranger.manifest, Speaker(key: f.ada, net: NetworkID(name: "other"), model: ConversationFixture.model).manifest]
        #expect(ConversationLog.audit(records).problems.map(\.message).filter { $0.contains("not a participant") || $0.contains("another network") }.count == 2)
    }

    @Test func aVersion1EntryCannotFollowVersion2Ones() throws {
        let f = ConversationFixture()
        var log = try f.log()
        try log.append(log.makeEntry(key: f.ada, kind: .say, text: "hi", model: ConversationFixture.model, disclosed: [],
                                     ts: ConversationFixture.start + 1, producer: .ai(engine: "test")))
        let old = ConversationEntry(conv: log.id, seq: 2, prev: log.headHash, author: f.cleoID, ts: ConversationFixture.start + 2, kind: .say,
                                    text: "no producer", model: ConversationFixture.model, disclosed: [], producer: nil).signed(with: f.cleo)
        #expect { try log.append(old) } throws: { ($0 as? LogProblem)?.message.contains("version 1 entry after version 2") == true }
    }

    @Test func theTranscriptSaysWhoProducedEachEntry() throws {
        let log = try ConversationFixture().complete(turns: 2)
        let text = KithLog.markdown(log, names: [:])
        #expect(text.contains("by ai (test)") && text.contains("by person"))
    }
}
