import Foundation
import KithModel
import KithNode
import KithTestSupport
import Testing

/// The person's own material: notes become private memories, tagged from their headings;
/// `kith disclosures` reads from the signed transcripts which memories went to whom.
@Suite("Memories from notes, and disclosures")
struct MemoryToolsTests {
    @Test func notesBecomePrivateMemoriesTaggedFromHeadings() throws {
        let dir = try Fixtures.temporaryDirectory("notes")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("trips"), withIntermediateDirectories: true)
        try """
            # Climbing
            I learned to lead climb at Fontainebleau
            in 2019, with a borrowed rope.

            ## Gear
            - My favourite shoes are worn-out Solutions.
            - tiny

            ```
            code blocks are skipped
            ```
            # Work
            I once debugged a compiler bug for three days straight.
            """.write(to: dir.appendingPathComponent("log.md"), atomically: true, encoding: .utf8)
        try "Plain text note about baking bread on Sundays.\n".write(to: dir.appendingPathComponent("trips/bread.txt"), atomically: true, encoding: .utf8)
        try "not a note".write(to: dir.appendingPathComponent("image.png"), atomically: true, encoding: .utf8)
        let memories = try NoteImporter.memories(at: dir.path)
        #expect(memories.map(\.text) == [
            "I learned to lead climb at Fontainebleau in 2019, with a borrowed rope.",
            "My favourite shoes are worn-out Solutions.",
            "I once debugged a compiler bug for three days straight.",
            "Plain text note about baking bread on Sundays.",
        ])
        #expect(memories.allSatisfy { $0.visibility == .private }, "imported notes are private unless the person says otherwise")
        #expect(memories[1].tags == ["log", "climbing", "gear"])
        #expect(memories[2].tags == ["log", "work"])
        // A file past the limit is refused with what to do; a missing path too.
        let big = dir.appendingPathComponent("big.md")
        try Data(repeating: 0x61, count: NoteImporter.maxFileSize + 1).write(to: big)
        #expect(throws: NodeError.self) { _ = try NoteImporter.memories(at: dir.path) }
        #expect(throws: NodeError.self) { _ = try NoteImporter.memories(at: dir.path + "/nope") }
    }

    @Test func disclosuresAreReadFromTheSignedTranscripts() async throws {
        let ada = try await ProposalTests.start("ada", edits: [("converse: fof", "converse: anyone")])
        let cleo = try await ProposalTests.start("cleo", edits: [("converse: fof", "converse: anyone")])
        for await _ in await ada.runtime.talk(to: cleo.identity, host: "127.0.0.1", port: cleo.port, topic: "poetry", turns: 6) {}
        let context = try ada.home.open(passphrase: nil)
        let all = try Disclosures.list(store: context.store, me: context.identity, model: context.model, salt: context.keys.modelSalt)
        #expect(!all.isEmpty)
        #expect(all.allSatisfy { $0.peer == cleo.identity.did && $0.visibility == "public" && $0.text != nil }, "\(all)")
        #expect(all.allSatisfy { $0.inWords == true && $0.visibilityNow == "public" }, "the embedded engine says what it draws on")
        // The person later narrows a disclosed memory to friends and rewrites another's tags:
        // both stay named, with the visibility they had when they were said and the one they have now.
        let disclosed = Set(all.compactMap(\.text))
        var edited = context.model
        var narrowed: String?
        for i in edited.memories.indices where disclosed.contains(edited.memories[i].text) {
            if narrowed == nil {
                edited.memories[i].visibility = .friends
                narrowed = edited.memories[i].text
            } else {
                edited.memories[i].tags = ["retagged"]
            }
        }
        let afterEdit = try Disclosures.list(store: context.store, me: context.identity, model: edited, salt: context.keys.modelSalt)
        #expect(afterEdit.count == all.count && afterEdit.allSatisfy { $0.text != nil && $0.visibility == "public" }, "\(afterEdit)")
        #expect(afterEdit.filter { $0.text == narrowed }.allSatisfy { $0.visibilityNow == "friends" } && narrowed != nil)
        // A memory deleted since is still named from the ledger, as no longer there.
        var removed = context.model
        removed.memories.removeAll { disclosed.contains($0.text) }
        let afterRemoval = try Disclosures.list(store: context.store, me: context.identity, model: removed, salt: context.keys.modelSalt)
        #expect(afterRemoval.allSatisfy { $0.text != nil && $0.visibilityNow == nil }, "\(afterRemoval)")
        #expect(try Disclosures.list(store: context.store, me: context.identity, model: context.model, salt: context.keys.modelSalt,
                                     peer: ada.identity).isEmpty)
        // Cleo's node lists Cleo's own disclosures, never Ada's.
        let cleoContext = try cleo.home.open(passphrase: nil)
        let cleos = try Disclosures.list(store: cleoContext.store, me: cleoContext.identity, model: cleoContext.model, salt: cleoContext.keys.modelSalt)
        let adaTexts = Set(context.model.memories.map(\.text))
        #expect(cleos.allSatisfy { !adaTexts.contains($0.text ?? "") })
        await ada.runtime.stop()
        await cleo.runtime.stop()
    }
}
