/// A Noise handshake pattern (Noise spec §7): pre-messages and message token lists.
public struct NoisePattern: Sendable, Hashable {
    /// One token of a message pattern.
    public enum Token: Sendable, Hashable {
        case e, s, ee, es, se, ss
    }

    /// The pattern's name, like `XX`.
    public let name: String
    /// Whether the initiator's static key is known to the responder beforehand (`-> s` pre-message).
    public let initiatorStaticPremessage: Bool
    /// Whether the responder's static key is known to the initiator beforehand (`<- s` pre-message).
    public let responderStaticPremessage: Bool
    /// Message patterns; even indices are sent by the initiator, odd by the responder.
    public let messages: [[Token]]

    /// Kith's pattern: `-> e`, `<- e, ee, s, es`, `-> s, se`.
    public static let XX = NoisePattern(name: "XX", "", "e", "e ee s es", "s se")

    init(name: String, _ pre: String, _ messages: String...) {
        self.name = name
        initiatorStaticPremessage = pre.contains("i")
        responderStaticPremessage = pre.contains("r")
        self.messages = messages.map { message in
            message.split(separator: " ").map { token -> Token in
                switch token {
                case "e": return .e
                case "s": return .s
                case "ee": return .ee
                case "es": return .es
                case "se": return .se
                case "ss": return .ss
                default: preconditionFailure("unknown token \(token)")
                }
            }
        }
    }

    /// True for one-way patterns (N, K, X), where only the initiator sends.
    public var isOneWay: Bool { messages.count == 1 }

    /// Every fundamental and deferred pattern without PSK (Noise spec §7.4, §7.5, §18), by name.
    /// Pre-message flags: `i` = `-> s`, `r` = `<- s`. Only ``XX`` is used by Kith; the others let
    /// the implementation be checked against the full cacophony vector set.
    public static let all: [String: NoisePattern] = {
        let list: [NoisePattern] = [
            .init(name: "N", "r", "e es"),
            .init(name: "K", "ir", "e es ss"),
            .init(name: "X", "r", "e es s ss"),
            .init(name: "NN", "", "e", "e ee"),
            .init(name: "NK", "r", "e es", "e ee"),
            .init(name: "NX", "", "e", "e ee s es"),
            .init(name: "KN", "i", "e", "e ee se"),
            .init(name: "KK", "ir", "e es ss", "e ee se"),
            .init(name: "KX", "i", "e", "e ee se s es"),
            .init(name: "XN", "", "e", "e ee", "s se"),
            .init(name: "XK", "r", "e es", "e ee", "s se"),
            XX,
            .init(name: "IN", "", "e s", "e ee se"),
            .init(name: "IK", "r", "e es s ss", "e ee se"),
            .init(name: "IX", "", "e s", "e ee se s es"),
            .init(name: "NK1", "r", "e", "e ee es"),
            .init(name: "NX1", "", "e", "e ee s", "es"),
            .init(name: "X1N", "", "e", "e ee", "s", "se"),
            .init(name: "X1K", "r", "e es", "e ee", "s", "se"),
            .init(name: "XK1", "r", "e", "e ee es", "s se"),
            .init(name: "X1K1", "r", "e", "e ee es", "s", "se"),
            .init(name: "X1X", "", "e", "e ee s es", "s", "se"),
            .init(name: "XX1", "", "e", "e ee s", "es s se"),
            .init(name: "X1X1", "", "e", "e ee s", "es s", "se"),
            .init(name: "K1N", "i", "e", "e ee", "se"),
            .init(name: "K1K", "ir", "e es", "e ee", "se"),
            .init(name: "KK1", "ir", "e", "e ee se es"),
            .init(name: "K1K1", "ir", "e", "e ee es", "se"),
            .init(name: "K1X", "i", "e", "e ee s es", "se"),
            .init(name: "KX1", "i", "e", "e ee se s", "es"),
            .init(name: "K1X1", "i", "e", "e ee s", "se es"),
            .init(name: "I1N", "", "e s", "e ee", "se"),
            .init(name: "I1K", "r", "e es s", "e ee", "se"),
            .init(name: "IK1", "r", "e s", "e ee se es"),
            .init(name: "I1K1", "r", "e s", "e ee es", "se"),
            .init(name: "I1X", "", "e s", "e ee s es", "se"),
            .init(name: "IX1", "", "e s", "e ee se s", "es"),
            .init(name: "I1X1", "", "e s", "e ee s", "se es"),
        ]
        return Dictionary(uniqueKeysWithValues: list.map { ($0.name, $0) })
    }()
}
