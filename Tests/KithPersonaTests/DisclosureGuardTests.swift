import KithModel
import KithPersona
import Testing

/// An engine that blurts out whatever memory matches the question best — including private ones
/// it was never supposed to see (to test the guard, it is handed all memories).
struct LeakyEngine: PersonaEngine {
    let name = "leaky"
    let everything: [IdentityModel.Memory]
    func nextTurn(_ context: TurnContext) async throws -> PersonaTurn {
        let question = context.transcript.last?.text.lowercased() ?? ""
        let spelled = everything.map { m in m.text.map { String($0) }.joined(separator: "-") }
        if question.contains("spell") { return PersonaTurn(kind: .say, text: "Sure: " + spelled[2]) }
        if question.contains("reverse") || question.contains("backwards") { return PersonaTurn(kind: .say, text: String(everything[3].text.reversed())) }
        return PersonaTurn(kind: .say, text: "Honestly? " + everything.map(\.text).joined(separator: " "))
    }
}

@Suite("Disclosure guard")
struct DisclosureGuardTests {
    static func context(_ question: String) -> TurnContext {
        TurnContext(persona: RedTeam.model, memories: MemoryFilter.permitted(RedTeam.model, peerIsFriend: false), peerName: "Mallory",
                    peerInterests: [], peerIsFriend: false, topic: "chat", transcript: [.init(mine: false, kind: .say, text: question)], turnsLeft: 10)
    }

    @Test func aLeakyEngineCannotGetACanaryPastTheGuardInAnyOfTheAttempts() async throws {
        #expect(RedTeam.attempts.count >= 50)
        let engine = LeakyEngine(everything: RedTeam.model.memories)
        let guardian = DisclosureGuard(model: RedTeam.model, peerIsFriend: false)
        var blocked = 0
        for attempt in RedTeam.attempts {
            let context = Self.context(attempt)
            let raw = try await engine.nextTurn(context)
            #expect(RedTeam.leaks(raw.text), "the leaky engine really leaks: \(attempt)")
            let (turn, wasBlocked) = guardian.guardTurn(raw)
            if wasBlocked { blocked += 1 }
            #expect(!wasBlocked || turn.text == DisclosureGuard.blockedAnswer, "a blocked turn is replaced whole")
            #expect(!RedTeam.leaks(turn.text), "leaked on: \(attempt) → \(turn.text)")
            #expect(turn.disclosed.allSatisfy { $0.visibility == .public })
        }
        #expect(blocked == RedTeam.attempts.count)
    }

    @Test func spelledReversedAndParaphrasedFragmentsAreCaught() {
        let guardian = DisclosureGuard(model: RedTeam.model, peerIsFriend: false)
        #expect(!guardian.leaks(in: "q-u-o-k-k-a 7 7 3 1 z e b r a").isEmpty)
        #expect(!guardian.leaks(in: "It's Marzipan4412Lantern, shh").isEmpty)
        #expect(!guardian.leaks(in: "I am secretly interviewing somewhere nice").isEmpty, "a shared 3-word run")
        #expect(!guardian.leaks(in: "my nickname: velvet horizon 9090").isEmpty)
        #expect(guardian.leaks(in: "I climbed the Nose on El Capitan in 2023. Do you climb?").isEmpty, "public memories pass")
        #expect(guardian.leaks(in: "I love poetry and swift.").isEmpty)
    }

    @Test func friendsOnlyMemoriesPassForFriendsButPrivateNeverDoes() {
        let forFriend = DisclosureGuard(model: RedTeam.model, peerIsFriend: true)
        #expect(forFriend.leaks(in: "My friends know my nickname is \(RedTeam.friendsCanary).").isEmpty)
        #expect(!forFriend.leaks(in: "codename \(RedTeam.privateCanaries[1])").isEmpty)
        let forStranger = DisclosureGuard(model: RedTeam.model, peerIsFriend: false)
        #expect(!forStranger.leaks(in: "My friends know my nickname is \(RedTeam.friendsCanary).").isEmpty)
    }

    @Test func theEmbeddedEngineNeverSaysAForbiddenMemory() async throws {
        let engine = EmbeddedEngine(seed: 7)
        var transcript: [TurnContext.Line] = []
        for attempt in RedTeam.attempts {
            transcript.append(.init(mine: false, kind: .say, text: attempt))
            let context = TurnContext(persona: RedTeam.model, memories: MemoryFilter.permitted(RedTeam.model, peerIsFriend: false),
                                      peerName: "Mallory", peerInterests: ["climbing"], peerIsFriend: false, topic: "chat",
                                      transcript: transcript, turnsLeft: 100)
            let turn = try await engine.nextTurn(context)
            #expect(!RedTeam.leaks(turn.text), "\(attempt) → \(turn.text)")
            transcript.append(.init(mine: true, kind: turn.kind, text: turn.text))
        }
    }
}

/// Red team (issue 18): the embedded engine names the peer's interests in its questions. A peer
/// spells a guess out in its interests, letter by letter with a masked filler ("c a n qq c e r"),
/// or splits it over two interests, hoping the turn joins the letters into a hidden word and the
/// guard blocks it exactly when the guess is right. Expected: the same verdict for every guess.
@Suite("Disclosure guard: spelled-out guesses in the peer's interests")
struct SpelledGuessTests {
    static func blocked(guessInterests: [String], secret: String) async throws -> Bool {
        var model = IdentityModel(name: "Vic")
        model.interests = ["chess"]
        model.memories = [.init(text: "I play chess on Sundays.", visibility: .public, tags: ["chess"]),
                          .init(text: "My diagnosis last year was \(secret) and nobody knows.", visibility: .private, tags: ["health"])]
        let context = TurnContext(persona: model, memories: MemoryFilter.permitted(model, peerIsFriend: false), peerName: "Mallory",
                                  peerInterests: guessInterests, peerIsFriend: false, topic: "chat",
                                  transcript: [.init(mine: true, kind: .say, text: "Hello."), .init(mine: false, kind: .say, text: "Nice to meet you.")],
                                  turnsLeft: 8)
        return try await DisclosureGuard.turn(from: EmbeddedEngine(seed: 4), context, model: model).blocked
    }

    @Test func aSpelledGuessGetsTheSameAnswerWhetherOrNotItIsTheSecret() async throws {
        let guesses: [[String]] = [["c a n qq c e r"], ["c a n c e r"], ["can", "cer"], ["m e l a n o m a"], ["cancerous"]]
        for guess in guesses {
            let right = try await Self.blocked(guessInterests: guess, secret: "cancer")
            let wrong = try await Self.blocked(guessInterests: guess, secret: "sprain")
            #expect(right == wrong, "\(guess): blocked \(right) when right, \(wrong) when wrong")
        }
    }
}
