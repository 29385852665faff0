import KithCrypto
import KithModel
import KithPersona
import Testing

@Suite("Script engine and memory filter")
struct ScriptEngineTests {
    static func context(mine: Int, turnsLeft: Int = 10) -> TurnContext {
        TurnContext(persona: IdentityModel(name: "Ada"), memories: [], peerName: "Cleo", peerInterests: [], peerIsFriend: false,
                    topic: "poetry", transcript: (0..<mine).map { _ in .init(mine: true, kind: .say, text: "x") }, turnsLeft: turnsLeft)
    }

    @Test func playsTheScriptInOrderThenCloses() async throws {
        let engine = try ScriptEngine(text: "# rehearsal\nsay: Hello!\n\npropose: Shall we connect?\n")
        #expect(try await engine.nextTurn(Self.context(mine: 0)) == PersonaTurn(kind: .say, text: "Hello!"))
        #expect(try await engine.nextTurn(Self.context(mine: 1)) == PersonaTurn(kind: .propose, text: "Shall we connect?"))
        #expect(try await engine.nextTurn(Self.context(mine: 2)).kind == .close)
        #expect(try await engine.nextTurn(Self.context(mine: 0, turnsLeft: 0)).kind == .close)
    }

    @Test func malformedScriptsSayWhichLine() {
        #expect { try ScriptEngine(text: "say: ok\nshout: hi") } throws: { "\($0)".contains("line 2") }
    }

    @Test func privateMemoriesAreNeverPermittedAndFriendsOnlyForFriends() throws {
        var model = IdentityModel(name: "Ada")
        model.memories = [.init(text: "pub", visibility: .public), .init(text: "fr", visibility: .friends), .init(text: "priv", visibility: .private)]
        #expect(MemoryFilter.permitted(model, peerIsFriend: false).map(\.text) == ["pub"])
        #expect(MemoryFilter.permitted(model, peerIsFriend: true).map(\.text) == ["pub", "fr"])
        let salt = SecretBytes.random(count: 32)
        #expect(MemoryFilter.hash(model.memories[0], salt: salt) != MemoryFilter.hash(model.memories[0], salt: SecretBytes.random(count: 32)))
        #expect(MemoryFilter.hash(model.memories[0], salt: salt).count == 32)
    }
}
