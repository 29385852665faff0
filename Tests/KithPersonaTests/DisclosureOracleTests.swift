import KithModel
import KithPersona
import KithTestSupport
import Testing

/// An engine that repeats everything it was given that the peer controls, as a model echoing
/// its prompt would, next to this person's permitted memories.
struct EchoEngine: PersonaEngine {
    let name = "echo"
    func nextTurn(_ c: TurnContext) async throws -> PersonaTurn {
        let said = ([c.topic, c.peerName ?? ""] + c.transcript.map(\.text) + c.memories.map(\.text)).joined(separator: " | ")
        return PersonaTurn(kind: .say, text: "You said: \(said)", disclosed: c.memories)
    }
}

@Suite("Disclosure oracle")
struct DisclosureOracleTests {
    /// Plays the attacker against `engine` for every guess: the guess is the topic, the peer's
    /// name and in its turns; each observation is what came back, the guess masked out.
    static func observe(_ engine: any PersonaEngine, guarding: (PersonaTurn, TurnContext) -> PersonaTurn) async throws -> [(real: Bool, seen: String)] {
        let model = DisclosureOracle.model
        var observations: [(real: Bool, seen: String)] = []
        for (guess, real) in DisclosureOracle.guesses {
            var transcript: [TurnContext.Line] = []
            var seen = ""
            for line in DisclosureOracle.turns(guess) {
                transcript.append(.init(mine: false, kind: .say, text: line))
                let context = TurnContext(persona: model, memories: MemoryFilter.permitted(model, peerIsFriend: false), peerName: guess,
                                          peerInterests: [guess], peerIsFriend: false, topic: DisclosureOracle.topic(guess),
                                          transcript: transcript, turnsLeft: 10)
                let turn = guarding(try await engine.nextTurn(context), context)
                seen += "\(turn.kind)|\(turn.text)|\(turn.disclosed.map(\.text))\n"
                transcript.append(.init(mine: true, kind: turn.kind, text: turn.text))
            }
            observations.append((real, DisclosureOracle.masked(seen, guess)))
        }
        return observations
    }

    /// The guard as the node runs it: what the peer sent is not held against the turn.
    static func nodeGuard(_ turn: PersonaTurn, _ context: TurnContext) -> PersonaTurn {
        DisclosureGuard(model: DisclosureOracle.model, for: context).guardTurn(turn).turn
    }

    @Test func aGuardThatCountsThePeersOwnWordsIsAnOracleTheMeasureDetects() async throws {
        // Control: without ignoring the peer's words, the echo of a real hidden word is blocked
        // and a decoy's is not, so the attacker tells them apart nearly always.
        let naive = DisclosureGuard(model: DisclosureOracle.model, peerIsFriend: false)
        let advantage = DisclosureOracle.advantage(try await Self.observe(EchoEngine()) { turn, _ in naive.guardTurn(turn).turn })
        print("disclosure oracle (echo engine, a guard counting the peer's words): attacker's advantage \(advantage)")
        #expect(advantage >= 0.5, "advantage \(advantage)")
    }

    @Test(arguments: ["embedded", "echo"])
    func theAttackersAdvantageAtTellingHiddenWordsFromDecoysIsAtMostATenth(_ kind: String) async throws {
        let engine: any PersonaEngine = kind == "embedded" ? EmbeddedEngine(seed: 3) : EchoEngine()
        let observations = try await Self.observe(engine, guarding: Self.nodeGuard)
        #expect(observations.count == 100)
        let advantage = DisclosureOracle.advantage(observations)
        print("disclosure oracle (\(kind) engine, guard): attacker's advantage \(advantage) over 100 guesses")
        #expect(advantage <= 0.1, "advantage \(advantage)")
        // And nothing hidden was said that the attacker did not send itself.
        for (i, (guess, _)) in DisclosureOracle.guesses.enumerated() {
            let others = Set(DisclosureOracle.hiddenWords).subtracting([guess])
            let said = Set(observations[i].seen.split { !($0.isLetter || $0.isNumber) }.map(String.init))
            #expect(said.isDisjoint(with: others), "\(guess): \(said.intersection(others))")
        }
    }
}
