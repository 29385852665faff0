/// One command sent to the running node over its control socket (one JSON line).
public struct ControlRequest: Sendable, Codable {
    /// `status`, `invite`, `connect`, `requests`, `accept`, `decline`, `unfriend`, `reload`, `peers`, `talk`, `close` or `acks`.
    public var cmd: String
    /// The peer, for `connect`, `accept`, `decline`.
    public var did: String?
    /// Host to dial, for `connect`.
    public var host: String?
    /// Port to dial, for `connect` and `talk`.
    public var port: Int?
    /// Conversation topic, for `talk`.
    public var topic: String?
    /// Most turns, for `talk`.
    public var turns: Int?
    /// Conversation id (hex), for `close`.
    public var conv: String?
    /// Closing words, for `close`.
    public var text: String?

    /// Creates a request.
    public init(cmd: String, did: String? = nil, host: String? = nil, port: Int? = nil, topic: String? = nil, turns: Int? = nil,
                conv: String? = nil, text: String? = nil) {
        self.conv = conv
        self.text = text
        self.cmd = cmd
        self.did = did
        self.host = host
        self.port = port
        self.topic = topic
        self.turns = turns
    }
}
