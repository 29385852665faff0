import KithModel

/// The frames that open a relay circuit, sent on a fresh TCP connection to a relay before any
/// Noise message (`Protocol/transport.md`, relays). Their tags and lengths differ from every
/// other first frame (Noise message 1 is 32 bytes; the cookie and retry frames are 17 bytes
/// tagged `C` and `R`).
public enum RelayFrame {
    /// Circuit id length, bytes.
    public static let circuitLength = 16
    /// Dialler → relay: "join me to this identity" (ASCII `T`), 33-byte body.
    static let requestTag: UInt8 = 0x54
    /// Relayed friend → relay: "this connection is circuit …" (ASCII `J`), 17-byte body.
    static let joinTag: UInt8 = 0x4A
    /// Relay → dialler: "no circuit", with a reason (ASCII `N`), 2-byte body.
    static let refusalTag: UInt8 = 0x4E

    /// Why a relay refused a circuit (the refusal frame's second byte).
    public enum Refusal: UInt8, Error, Sendable, CustomStringConvertible {
        /// The relay does not relay for that identity (not its friend, or `policy.relay: off`).
        case notRelaying = 1
        /// The identity is not connected to the relay now.
        case notConnected = 2
        /// A circuit limit is reached (in all, for that identity, or from the dialler's network).
        case full = 3
        /// The identity did not join within the time allowed.
        case noAnswer = 4

        public var description: String {
            switch self {
            case .notRelaying: "the relay does not relay for them"
            case .notConnected: "they are not connected to the relay now"
            case .full: "the relay is at its circuit limit"
            case .noAnswer: "they did not answer the relay in time"
            }
        }
    }

    static func request(_ target: Identity) -> [UInt8] { [0, 33, requestTag] + target.bytes }
    static func join(_ circuit: [UInt8]) -> [UInt8] { [0, UInt8(1 + circuitLength), joinTag] + circuit }
    static func refusal(_ reason: Refusal) -> [UInt8] { [0, 2, refusalTag, reason.rawValue] }

    /// The target of a request frame's body.
    static func target(in body: ArraySlice<UInt8>) -> Identity? {
        guard body.count == 33, body.first == requestTag else { return nil }
        return try? Identity(publicKeyBytes: Array(body.dropFirst()))
    }

    /// The circuit of a join frame's body.
    static func circuit(in body: ArraySlice<UInt8>) -> [UInt8]? {
        guard body.count == 1 + circuitLength, body.first == joinTag else { return nil }
        return Array(body.dropFirst())
    }

    /// The reason of a refusal frame's body (an unknown code reads as `notRelaying`).
    static func refusal(in body: ArraySlice<UInt8>) -> Refusal? {
        guard body.count == 2, body.first == refusalTag else { return nil }
        return Refusal(rawValue: body[body.startIndex + 1]) ?? .notRelaying
    }
}

/// A relay refused the circuit.
public struct RelayRefused: Error, Sendable, CustomStringConvertible {
    /// Why.
    public let reason: RelayFrame.Refusal
    public var description: String { "the relay refused: \(reason)" }
}
