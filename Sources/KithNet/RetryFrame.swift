/// The admission frames that may come before a Noise handshake (`Protocol/transport.md`,
/// connection budgets). Both are 17-byte frames: Noise message 1 is 32 bytes and message 2 at
/// least 96, so neither can be mistaken for one.
enum RetryFrame {
    /// Cookie length, bytes.
    static let cookieLength = 16
    /// Responder → initiator: "come back with this cookie" (ASCII `R`).
    static let retryTag: UInt8 = 0x52
    /// Initiator → responder: "here is the cookie you gave me" (ASCII `C`).
    static let cookieTag: UInt8 = 0x43

    /// The framed message: length 17, the tag, the cookie.
    static func frame(_ tag: UInt8, _ cookie: [UInt8]) -> [UInt8] {
        [0, UInt8(1 + cookieLength), tag] + cookie
    }

    /// The cookie in `body` (a whole frame's body) when it is an admission frame with `tag`.
    static func cookie(in body: ArraySlice<UInt8>, tag: UInt8) -> [UInt8]? {
        guard body.count == 1 + cookieLength, body.first == tag else { return nil }
        return Array(body.dropFirst())
    }
}
