/// Why a byte string is not accepted as deterministic CBOR. Carries the offset of the offending
/// byte.
public struct CBORDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public enum Reason: Sendable, Hashable {
        /// The input ended inside an item, or a length points beyond the input.
        case truncated
        /// An integer or length was not encoded in its shortest form.
        case nonShortestArgument
        /// An indefinite-length item or a stray "break" byte.
        case indefiniteLength
        /// A floating-point number (not allowed in Kith's subset).
        case floatNotAllowed
        /// A tag (major type 6).
        case tagNotAllowed
        /// A simple value other than false, true and null.
        case simpleValueNotAllowed
        /// Additional information 28–30 (reserved by RFC 8949).
        case reservedAdditionalInfo
        /// A text string that is not valid UTF-8.
        case invalidUTF8
        /// Map keys not in bytewise order of their encodings.
        case unsortedMapKeys
        /// The same map key twice.
        case duplicateMapKey
        /// Nesting deeper than the limit.
        case tooDeep(limit: Int)
        /// A string or collection larger than the caller's limit.
        case limitExceeded(String)
        /// Bytes left over after the top-level item.
        case trailingBytes
        /// The input is larger than the caller's limit.
        case inputTooLarge(limit: Int)
    }

    /// What went wrong.
    public let reason: Reason
    /// Byte offset in the input where the problem was found.
    public let offset: Int

    /// Creates an error.
    public init(_ reason: Reason, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String {
        let what: String
        switch reason {
        case .truncated: what = "input ends inside an item (or a length points past the end)"
        case .nonShortestArgument: what = "integer or length not in its shortest encoding"
        case .indefiniteLength: what = "indefinite length (or stray break) is not allowed"
        case .floatNotAllowed: what = "floating-point numbers are not allowed"
        case .tagNotAllowed: what = "tags are not allowed"
        case .simpleValueNotAllowed: what = "simple values other than false, true and null are not allowed"
        case .reservedAdditionalInfo: what = "reserved additional information value (28-30)"
        case .invalidUTF8: what = "text string is not valid UTF-8"
        case .unsortedMapKeys: what = "map keys are not sorted by their encoded bytes"
        case .duplicateMapKey: what = "duplicate map key"
        case .tooDeep(let limit): what = "nesting deeper than \(limit)"
        case .limitExceeded(let detail): what = "size limit exceeded: \(detail)"
        case .trailingBytes: what = "trailing bytes after the item"
        case .inputTooLarge(let limit): what = "input larger than \(limit) bytes"
        }
        return "invalid CBOR at byte \(offset): \(what)"
    }
}
