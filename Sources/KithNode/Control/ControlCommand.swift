public import KithModel

/// One command to the running node, over its control socket and the dashboard's JSON API
/// (`Protocol/dashboard.md`). On the socket it is one JSON object per line,
/// `{"cmd": NAME, …fields}`; over HTTP, `POST /api/NAME` with the fields as the body.
public enum ControlCommand: Sendable, Hashable {
    /// `kith status` → ``StatusReport``.
    case status
    /// `kith invite` → `String` (`did:key:…?dht=KEY` with the DHT on; `withAddress` or no DHT
    /// appends `@host:port`).
    case invite(withAddress: Bool)
    /// `kith peers` → `[PeerReport]`.
    case peers
    /// `kith requests` → `[RequestReport]`.
    case requests
    /// `kith suggestions` → `[Suggestion]`.
    case suggestions
    /// `kith reload` → ``ReloadReport``.
    case reload
    /// For each unfinished conversation, the highest seq the peer holds → `[String: UInt64]`.
    case acknowledged
    /// `kith connect` → ``ConnectOutcome``; without `host` and `port`, by key alone (`dhtKey`:
    /// the z-base-32 record key of an invite).
    case connect(did: String, host: String?, port: Int?, dhtKey: String?)
    /// `kith resolve` → ``ResolveReport``.
    case resolve(did: String, dhtKey: String?)
    /// `kith accept` → ``ConnectOutcome``.
    case accept(did: String)
    /// `kith decline` → ``ConnectOutcome``.
    case decline(did: String)
    /// `kith unfriend` → ``ConnectOutcome``.
    case unfriend(did: String)
    /// `kith talk`: streams ``TalkEvent``s, then `"done"`.
    case talk(did: String, host: String?, port: Int?, topic: String?, turns: Int?)
    /// `kith chat`: like ``talk(did:host:port:topic:turns:)``, and every further line the client
    /// sends, `{"say": "…"}`, is the person's next turn.
    case chat(did: String, host: String?, port: Int?, topic: String?, turns: Int?)
    /// `kith close` → ``TalkEvent``.
    case close(conv: String, text: String?)
    /// Everyone within reach and the friendships between them → ``PeopleReport``.
    case people
    /// Stored conversations, newest first → `[ConversationItem]`.
    case conversations
    /// One transcript with its audit → ``ConversationDetail``.
    case conversation(conv: String)
    /// A conversation as a file (`format`: `kithlog` or `md`) → ``ExportReport``.
    case export(conv: String, format: String)
    /// The editable profile and the policy → ``IdentityReport``.
    case identity
    /// What each kind of peer can learn, for `profile` (unsaved) or the running model →
    /// ``DisclosurePreview``.
    case preview(profile: IdentityProfile?)
    /// Writes `profile` into `identity.yaml` and reloads → ``SaveIdentityReport``.
    case saveIdentity(profile: IdentityProfile)
    /// The dashboard's address with a single-use sign-in code → `String` (`kith dashboard`).
    case dashboard

    /// The command's name on the wire.
    public var name: String {
        switch self {
        case .status: "status"
        case .invite: "invite"
        case .peers: "peers"
        case .requests: "requests"
        case .suggestions: "suggestions"
        case .reload: "reload"
        case .acknowledged: "acks"
        case .connect: "connect"
        case .resolve: "resolve"
        case .accept: "accept"
        case .decline: "decline"
        case .unfriend: "unfriend"
        case .talk: "talk"
        case .chat: "chat"
        case .close: "close"
        case .people: "people"
        case .conversations: "conversations"
        case .conversation: "conversation"
        case .export: "export"
        case .identity: "identity"
        case .preview: "preview"
        case .saveIdentity: "save-identity"
        case .dashboard: "dashboard"
        }
    }

    /// True for commands answered with a stream of events.
    public var streams: Bool { talkParameters != nil }

    /// Who to talk to and how, for `talk` and `chat`.
    public var talkParameters: (did: String, host: String?, port: Int?, topic: String?, turns: Int?)? {
        switch self {
        case .talk(let did, let host, let port, let topic, let turns), .chat(let did, let host, let port, let topic, let turns):
            (did, host, port, topic, turns)
        default: nil
        }
    }
}

extension ControlCommand: Codable {
    private enum Key: String, CodingKey { case cmd, did, host, port, topic, turns, conv, text, dht, address, format, profile }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let name = try c.decode(String.self, forKey: .cmd)
        func did() throws -> String { try c.decode(String.self, forKey: .did) }
        switch name {
        case "status": self = .status
        case "invite": self = .invite(withAddress: try c.decodeIfPresent(Bool.self, forKey: .address) ?? false)
        case "peers": self = .peers
        case "requests": self = .requests
        case "suggestions": self = .suggestions
        case "reload": self = .reload
        case "acks": self = .acknowledged
        case "connect":
            self = .connect(did: try did(), host: try c.decodeIfPresent(String.self, forKey: .host),
                            port: try c.decodeIfPresent(Int.self, forKey: .port), dhtKey: try c.decodeIfPresent(String.self, forKey: .dht))
        case "resolve": self = .resolve(did: try did(), dhtKey: try c.decodeIfPresent(String.self, forKey: .dht))
        case "accept": self = .accept(did: try did())
        case "decline": self = .decline(did: try did())
        case "unfriend": self = .unfriend(did: try did())
        case "talk", "chat":
            let (d, host, port, topic, turns) = (try did(), try c.decodeIfPresent(String.self, forKey: .host), try c.decodeIfPresent(Int.self, forKey: .port),
                                                 try c.decodeIfPresent(String.self, forKey: .topic), try c.decodeIfPresent(Int.self, forKey: .turns))
            self = name == "talk" ? .talk(did: d, host: host, port: port, topic: topic, turns: turns)
                : .chat(did: d, host: host, port: port, topic: topic, turns: turns)
        case "close": self = .close(conv: try c.decode(String.self, forKey: .conv), text: try c.decodeIfPresent(String.self, forKey: .text))
        case "people": self = .people
        case "conversations": self = .conversations
        case "conversation": self = .conversation(conv: try c.decode(String.self, forKey: .conv))
        case "export": self = .export(conv: try c.decode(String.self, forKey: .conv), format: try c.decodeIfPresent(String.self, forKey: .format) ?? "kithlog")
        case "identity": self = .identity
        case "preview": self = .preview(profile: try c.decodeIfPresent(IdentityProfile.self, forKey: .profile))
        case "save-identity": self = .saveIdentity(profile: try c.decode(IdentityProfile.self, forKey: .profile))
        case "dashboard": self = .dashboard
        default:
            throw DecodingError.dataCorruptedError(forKey: .cmd, in: c, debugDescription: "unknown command '\(name)'")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(name, forKey: .cmd)
        switch self {
        case .status, .peers, .requests, .suggestions, .reload, .acknowledged, .people, .conversations, .identity, .dashboard:
            break
        case .conversation(let conv):
            try c.encode(conv, forKey: .conv)
        case .export(let conv, let format):
            try c.encode(conv, forKey: .conv)
            try c.encode(format, forKey: .format)
        case .preview(let profile):
            try c.encodeIfPresent(profile, forKey: .profile)
        case .saveIdentity(let profile):
            try c.encode(profile, forKey: .profile)
        case .invite(let withAddress):
            if withAddress { try c.encode(true, forKey: .address) }
        case .connect(let did, let host, let port, let dhtKey):
            try c.encode(did, forKey: .did)
            try c.encodeIfPresent(host, forKey: .host)
            try c.encodeIfPresent(port, forKey: .port)
            try c.encodeIfPresent(dhtKey, forKey: .dht)
        case .resolve(let did, let dhtKey):
            try c.encode(did, forKey: .did)
            try c.encodeIfPresent(dhtKey, forKey: .dht)
        case .accept(let did), .decline(let did), .unfriend(let did):
            try c.encode(did, forKey: .did)
        case .talk(let did, let host, let port, let topic, let turns), .chat(let did, let host, let port, let topic, let turns):
            try c.encode(did, forKey: .did)
            try c.encodeIfPresent(host, forKey: .host)
            try c.encodeIfPresent(port, forKey: .port)
            try c.encodeIfPresent(topic, forKey: .topic)
            try c.encodeIfPresent(turns, forKey: .turns)
        case .close(let conv, let text):
            try c.encode(conv, forKey: .conv)
            try c.encodeIfPresent(text, forKey: .text)
        }
    }
}
