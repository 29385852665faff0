import Foundation
import KithCBOR
import KithCrypto
import KithModel
import KithTestSupport
import Testing

@Suite("Identity model")
struct IdentityModelTests {
    static let issueExample = """
        name: Ada
        bio: Climber and compiler nerd.
        interests: [climbing, swift, poetry]
        values: [honesty, curiosity]
        style: warm, concise
        memories:
          - text: I climbed the Nose on El Capitan in 2023.
            visibility: public        # public | friends | private
            tags: [climbing]
        policy:
          converse: fof               # friends | fof | anyone
          connect: ask                # ask | auto | never
          min_match: 0.6
          max_turns: 12
        engine:
          kind: embedded              # embedded | openai | script
        """

    @Test func parsesTheDocumentedExample() throws {
        let model = try IdentityModel(yaml: Self.issueExample)
        #expect(model.name == "Ada")
        #expect(model.interests == ["climbing", "swift", "poetry"])
        #expect(model.memories == [.init(text: "I climbed the Nose on El Capitan in 2023.", visibility: .public, tags: ["climbing"])])
        #expect(model.policy.converse == .fof)
        #expect(model.policy.connect == .ask)
        #expect(model.policy.minMatchThousandths == 600)
        #expect(model.policy.maxTurns == 12)
        #expect(model.engine.kind == .embedded)
    }

    @Test(arguments: ["ada", "ben", "cleo"])
    func examplesAreCompleteAndDistinct(person: String) throws {
        let text = try String(contentsOf: Fixtures.repoFile("Examples/\(person).yaml"), encoding: .utf8)
        let model = try IdentityModel(yaml: text)
        #expect(!model.bio.isEmpty && model.interests.count >= 3 && !model.values.isEmpty && !model.style.isEmpty)
        for visibility in IdentityModel.Visibility.allCases {
            #expect(model.memories.contains { $0.visibility == visibility }, "\(person) has a \(visibility) memory")
        }
    }

    @Test func adaAndCleoShareInterestsBenIsTheBridge() throws {
        func load(_ p: String) throws -> IdentityModel {
            try IdentityModel(yaml: String(contentsOf: Fixtures.repoFile("Examples/\(p).yaml"), encoding: .utf8))
        }
        let ada = try load("ada"), ben = try load("ben"), cleo = try load("cleo")
        #expect(Set(ada.interests).intersection(cleo.interests).count >= 3)
        #expect(Set(ada.interests).intersection(ben.interests).count >= 1)
        #expect(Set(ada.name) != Set(cleo.name))
    }

    @Test(arguments: [
        ("bio: no name here", "name", nil as Int?),
        ("name: Ada\nhobbies: [x]", "hobbies", 2),
        ("name: Ada\ninterests: climbing", "interests", 2),
        ("name: Ada\nmemories:\n  - text: hi\n    visibility: secret", "memories[0].visibility", 4),
        ("name: Ada\nmemories:\n  - visibility: public", "memories[0].text", 3),
        ("name: Ada\npolicy:\n  min_match: 1.5", "policy.min_match", 3),
        ("name: Ada\npolicy:\n  min_match: 0.6666", "policy.min_match", 3),
        ("name: Ada\npolicy:\n  max_turns: lots", "policy.max_turns", 3),
        ("name: Ada\npolicy:\n  converse: everyone", "policy.converse", 3),
        ("name: Ada\nengine:\n  kind: openai", "engine.url", 2),
        ("name: Ada\nengine:\n  kind: script", "engine.script", 2),
        ("name: \"\"", "name", 1),
        ("name: [Ada]", "name", 1),
        ("name: Ada\ninterests: [a, b, a]", "interests[2]", nil),
        ("name: Ada\nname: Bob", "", nil),
        ("name: Ada\n  bio: [unclosed", "", 2),
    ])
    func errorsNameTheFieldAndLine(yaml: String, field: String, line: Int?) {
        #expect {
            try IdentityModel(yaml: yaml)
        } throws: { error in
            guard let e = error as? IdentityModelError else { return false }
            return e.field == field && (line == nil || e.line == line)
        }
    }

    @Test func aliasesAndHugeFilesAreRefused() {
        let laughs = "name: Ada\nvalues: &a [x, x]\ninterests: *a"
        #expect(throws: IdentityModelError.self) { try IdentityModel(yaml: laughs) }
        let huge = "name: Ada\nbio: " + String(repeating: "a", count: IdentityModel.Limits.fileSize)
        #expect(throws: IdentityModelError.self) { try IdentityModel(yaml: huge) }
    }

    @Test func commitmentCoversEverythingAnEngineMayUseAndDependsOnTheSalt() throws {
        let model = try IdentityModel(yaml: Self.issueExample)
        let salt = SecretBytes.random(count: 32)
        let base = model.commitment(salt: salt)
        #expect(base.count == 32)
        #expect(model.commitment(salt: salt) == base, "deterministic")
        #expect(model.commitment(salt: SecretBytes.random(count: 32)) != base, "salted")

        var privateChange = model
        privateChange.memories.append(.init(text: "secret", visibility: .private))
        #expect(privateChange.commitment(salt: salt) == base, "private memories never reach an engine: editing one publishes nothing")
        var friendsChange = model
        friendsChange.memories.append(.init(text: "for friends", visibility: .friends))
        #expect(friendsChange.commitment(salt: salt) != base, "friends-only memories are committed")
        var publicChange = model
        publicChange.memories.append(.init(text: "for anyone", visibility: .public))
        #expect(publicChange.commitment(salt: salt) != base)
        var valuesChange = model
        valuesChange.values.append("kindness")
        #expect(valuesChange.commitment(salt: salt) != base)
        var policyChange = model
        policyChange.policy.minMatchThousandths = 601
        #expect(policyChange.commitment(salt: salt) != base)
        var reordered = model
        reordered.interests.reverse()
        #expect(reordered.commitment(salt: salt) != base, "order matters")
    }

    @Test func canonicalCBORHasEveryFieldAndNoFloats() throws {
        let model = try IdentityModel(yaml: Self.issueExample)
        let bytes = model.canonicalCBOR.encoded()
        let decoded = try CBOR.decode(bytes)
        #expect(decoded.encoded() == bytes)
        #expect(decoded["policy"]?["min_match"] == .unsigned(600))
        #expect(decoded["policy"]?["daily_conversations"] == .unsigned(20))
        #expect(decoded["memories"]?.arrayValue?.first?["visibility"] == "public")
        #expect(Set(decoded.mapValue!.keys) == ["v", "name", "bio", "interests", "values", "style", "memories", "policy", "engine"])
    }
}
