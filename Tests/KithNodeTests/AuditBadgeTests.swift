import KithModel
import KithNode
import KithProtocol
import KithTestSupport
import Testing

/// The dashboard's audit badge says what `kith audit` finds: valid only when every check passes
/// and both sealed; incomplete when only the ending is missing; invalid for anything altered.
@Suite("Audit badge")
struct AuditBadgeTests {
    @Test func theBadgeFollowsTheAuditOfTheRecords() throws {
        var pair = ConversationPair()
        let conv = try pair.open(from: 0)
        pair.run()
        let records = ConversationRecords(try #require(pair.a.stored[conv]))
        #expect(AuditBadge(ConversationLog.audit(records, now: pair.clock)).status == "valid")

        var unsealed = records
        unsealed.seals = []
        let open = AuditBadge(ConversationLog.audit(unsealed, now: pair.clock))
        #expect(open.status == "incomplete" && !open.problems.isEmpty)

        // One byte of one entry's text changed: the signature no longer holds.
        var altered = records
        var bytes = altered.entries[1].bytes
        bytes[bytes.count - 3] ^= 0x20
        altered.entries[1] = try SignedObject(type: altered.entries[1].type, bytes: bytes, sig: altered.entries[1].sig)
        let bad = AuditBadge(ConversationLog.audit(altered, now: pair.clock))
        #expect(bad.status == "invalid" && !bad.problems.isEmpty, "\(bad)")

        // An entry dropped from the middle breaks the chain.
        var dropped = records
        dropped.entries.remove(at: 2)
        #expect(AuditBadge(ConversationLog.audit(dropped, now: pair.clock)).status == "invalid")
    }
}
