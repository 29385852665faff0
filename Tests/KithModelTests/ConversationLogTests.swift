import Foundation
import KithCBOR
import KithCrypto
import KithModel
import KithTestSupport
import Testing

/// Builds conversations between two keys for the audit tests.
struct ConversationFixture {
    let ada = Ed25519.KeyPair.generate()
    let cleo = Ed25519.KeyPair.generate()
    var adaID: Identity { Identity(publicKey: ada.publicKey) }
    var cleoID: Identity { Identity(publicKey: cleo.publicKey) }

    /// A complete conversation: `turns` alternating says, a close by Cleo, both seals.
    func complete(turns: Int = 6, topic: String = "poetry", maxTurns: UInt64 = 20) throws -> ConversationLog {
        var log = try ConversationLog(header: ConversationHeader(from: adaID, to: cleoID, topic: topic, ts: 1_000, net: .main,
                                                                 maxTurns: maxTurns).signed(with: ada))
        for i in 0..<turns {
            let key = i % 2 == 0 ? ada : cleo
            try log.append(log.makeEntry(key: key, kind: .say, text: "turn \(i + 1)", model: [UInt8](repeating: 1, count: 32),
                                         disclosed: [], ts: 2_000 + UInt64(i)))
        }
        let closer = turns % 2 == 0 ? ada : cleo
        try log.append(log.makeEntry(key: closer, kind: .close, text: "bye", model: [UInt8](repeating: 1, count: 32), disclosed: [], ts: 3_000))
        try log.addSeal(log.makeSeal(key: ada))
        try log.addSeal(log.makeSeal(key: cleo))
        return log
    }

    static func export(_ log: ConversationLog) -> [UInt8] {
        Array(KithLog.export(header: log.headerObject, entries: log.entries.map(\.object),
                             seals: log.participants.compactMap { log.seals[$0]?.object }).utf8)
    }

    static func audit(_ bytes: [UInt8]) -> [LogProblem] {
        do {
            let records = try KithLog.parse(bytes)
            return KithLog.audit(records).problems
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
        let records = [log.headerObject] + log.entries.map(\.object) + log.participants.compactMap { log.seals[$0]?.object }
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
                    let result = ConversationLog.audit(header: all[0], entries: Array(all[1..<1 + log.entries.count]),
                                                       seals: Array(all[(1 + log.entries.count)...]))
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
        dropped.remove(at: 4)  // meta, header, e1, e2, [e3]…
        #expect(audit(dropped).first?.record == "entry 3")
        #expect(audit(dropped).first?.message.contains("seq is 4, expected 3") == true)
        // Dropping the last entry and its seals is truncation: the seals no longer match.
        var truncated = lines
        truncated.remove(at: 8)  // the close
        #expect(audit(truncated).contains { $0.message.contains("covers 7 entries but the log has 6") || $0.message.contains("ended") })
        // Swapping two entries.
        var swapped = lines
        swapped.swapAt(3, 4)
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
        spliced[5] = otherLines[5]
        #expect(audit(spliced).first?.message.contains("another conversation") == true)
        // A header from another conversation: line 1 no longer matches.
        var foreignHeader = lines
        foreignHeader[1] = otherLines[1]
        #expect(audit(foreignHeader).first?.message.contains("conv does not match") == true)
    }

    @Test func chainRulesAreEnforcedOnAppend() throws {
        let f = ConversationFixture()
        var log = try ConversationLog(header: ConversationHeader(from: f.adaID, to: f.cleoID, topic: "t", ts: 1, net: .main, maxTurns: 3)
            .signed(with: f.ada))
        let model = [UInt8](repeating: 0, count: 32)
        // The responder cannot write first.
        #expect { try log.append(log.makeEntry(key: f.cleo, kind: .say, text: "x", model: model, disclosed: [], ts: 1)) }
            throws: { ($0 as? LogProblem)?.message.contains("initiator writes entry 1") == true }
        try log.append(log.makeEntry(key: f.ada, kind: .say, text: "hi", model: model, disclosed: [], ts: 1))
        // No two turns in a row.
        #expect { try log.append(log.makeEntry(key: f.ada, kind: .say, text: "again", model: model, disclosed: [], ts: 2)) }
            throws: { ($0 as? LogProblem)?.message.contains("alternate") == true }
        // A non-participant cannot write.
        let eve = Ed25519.KeyPair.generate()
        #expect { try log.append(log.makeEntry(key: eve, kind: .say, text: "psst", model: model, disclosed: [], ts: 2)) }
            throws: { ($0 as? LogProblem)?.message.contains("not a participant") == true }
        // Accept must answer a propose.
        #expect { try log.append(log.makeEntry(key: f.cleo, kind: .accept, text: "yes", model: model, disclosed: [], ts: 2)) }
            throws: { ($0 as? LogProblem)?.message.contains("must answer a propose") == true }
        // Oversized text is refused when decoding.
        let big = ConversationEntry(conv: log.id, seq: 2, prev: log.headHash, author: f.cleoID, ts: 2, kind: .say,
                                    text: String(repeating: "x", count: 4097), model: model, disclosed: []).signed(with: f.cleo)
        #expect(throws: LogProblem.self) { try log.append(big) }
        try log.append(log.makeEntry(key: f.cleo, kind: .say, text: "hello", model: model, disclosed: [], ts: 2))
        try log.append(log.makeEntry(key: f.ada, kind: .say, text: "three", model: model, disclosed: [], ts: 3))
        // max_turns 3 reached: only a close may follow (by either side).
        #expect(log.onlyCloseAllowed)
        #expect { try log.append(log.makeEntry(key: f.cleo, kind: .say, text: "four", model: model, disclosed: [], ts: 4)) }
            throws: { ($0 as? LogProblem)?.message.contains("max_turns") == true }
        // Sealing before the close is refused.
        #expect(throws: LogProblem.self) { try log.addSeal(log.makeSeal(key: f.ada)) }
        try log.append(log.makeEntry(key: f.ada, kind: .close, text: "bye", model: model, disclosed: [], ts: 4))
        // Nothing after the close.
        #expect { try log.append(log.makeEntry(key: f.cleo, kind: .say, text: "wait", model: model, disclosed: [], ts: 5)) }
            throws: { ($0 as? LogProblem)?.message.contains("after the conversation ended") == true }
        try log.addSeal(log.makeSeal(key: f.ada))
        #expect(!log.isComplete)
        try log.addSeal(log.makeSeal(key: f.cleo))
        #expect(log.isComplete)
    }

    @Test func aRefusalIsADeclineAtSeq2() throws {
        let f = ConversationFixture()
        var log = try ConversationLog(header: ConversationHeader(from: f.adaID, to: f.cleoID, topic: "t", ts: 1, net: .main, maxTurns: 5)
            .signed(with: f.ada))
        let model = [UInt8](repeating: 0, count: 32)
        try log.append(log.makeEntry(key: f.ada, kind: .say, text: "hi", model: model, disclosed: [], ts: 1))
        try log.append(log.makeEntry(key: f.cleo, kind: .decline, text: "not today", model: model, disclosed: [], ts: 2))
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
}
