/// A signed object of a known type whose signature and fields have been verified.
public enum VerifiedObject: Sendable, Hashable {
    /// A profile manifest.
    case manifest(Manifest)
    /// One side's signature on a friendship.
    case connection(ConnectionRecord)

    /// The signed object types this version understands.
    public static let knownTypes = [Manifest.type, ConnectionRecord.type, ConnectionRecord.revocationType]

    /// Verifies `object` according to its type. Expiry is checked only when `now` is given.
    public static func verify(_ object: SignedObject, now: UInt64? = nil) throws(SignedObjectError) -> VerifiedObject {
        switch object.type {
        case Manifest.type:
            return .manifest(try Manifest.verify(object, now: now))
        case ConnectionRecord.type, ConnectionRecord.revocationType:
            return .connection(try ConnectionRecord.verify(object))
        default:
            throw .malformed("unknown object type '\(object.type)' (known: \(knownTypes.joined(separator: ", ")))")
        }
    }

    /// The identity that signed the object.
    public var signer: Identity {
        switch self {
        case .manifest(let m): return m.id
        case .connection(let c): return c.by
        }
    }
}
