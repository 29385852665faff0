/// A person's identity model, authored as `identity.yaml` (see `Protocol/identity.md`).
public struct IdentityModel: Sendable, Hashable {
    /// Display name (required).
    public var name: String
    /// Short biography, public.
    public var bio: String = ""
    /// Interests, public.
    public var interests: [String] = []
    /// Values the person holds.
    public var values: [String] = []
    /// How the person speaks, used by persona engines.
    public var style: String = ""
    /// Things the person remembers, each with a visibility.
    public var memories: [Memory] = []
    /// What the AI identity may do on the person's behalf.
    public var policy = Policy()
    /// Which persona engine speaks for the person.
    public var engine = EngineSettings()

    /// A model with just a name; everything else at its default.
    public init(name: String) {
        self.name = name
    }

    /// One remembered item.
    public struct Memory: Sendable, Hashable {
        /// The memory itself.
        public var text: String
        /// Who may hear it.
        public var visibility: Visibility
        /// Topics it relates to.
        public var tags: [String]

        /// Creates a memory.
        public init(text: String, visibility: Visibility, tags: [String] = []) {
            self.text = text
            self.visibility = visibility
            self.tags = tags
        }
    }

    /// Who may be told a memory.
    public enum Visibility: String, Sendable, Hashable, CaseIterable {
        /// Anyone.
        case `public`
        /// Friends only.
        case friends
        /// Never told to anyone.
        case `private`
    }

    /// The person's rules for their AI identity.
    public struct Policy: Sendable, Hashable {
        /// Who the AI may converse with.
        public var converse: ConversePolicy = .fof
        /// How connection proposals are answered.
        public var connect: ConnectPolicy = .ask
        /// Lowest match score (in thousandths, 0–1000) at which the AI may propose a connection.
        public var minMatchThousandths: Int = 600
        /// Most turns in one conversation.
        public var maxTurns: Int = 12
        /// Most conversations a day.
        public var dailyConversations: Int = 20
        /// Whether the AI starts conversations with friends of friends whose interests overlap.
        public var meet: MeetPolicy = .ask
        /// Who may learn this node's network addresses.
        public var addresses: AddressPolicy = .friends
        /// What this node publishes in the Mainline DHT (`Protocol/dht.md`). Not part of the
        /// model commitment: it decides where the node can be found, not what the AI says.
        public var dht: DHTPolicy = .friends
        /// Whether this node relays circuits to its friends behind NATs (`Protocol/transport.md`,
        /// relays). Not part of the model commitment either.
        public var relay: RelayPolicy = .friends

        /// The default policy.
        public init() {}

        /// ``minMatchThousandths`` as a fraction in [0, 1].
        public var minMatch: Double { Double(minMatchThousandths) / 1000 }
    }

    /// Who the AI may talk to.
    public enum ConversePolicy: String, Sendable, Hashable, CaseIterable {
        /// Friends only.
        case friends
        /// Friends and friends of friends.
        case fof
        /// Anyone on the network.
        case anyone
    }

    /// Who may learn this node's network addresses (`Protocol/disclosure.md`).
    public enum AddressPolicy: String, Sendable, Hashable, CaseIterable {
        /// Friends only; a friend of a friend learns them only through an introduction this node
        /// agreed to.
        case friends
        /// Friends, and friends of friends on request through a mutual friend, without asking.
        case fof
    }

    /// What the node publishes in the Mainline DHT so people can reach it by key alone.
    public enum DHTPolicy: String, Sendable, Hashable, CaseIterable {
        /// An encrypted record only friends (and holders of an invite) can find and read.
        case friends
        /// A pkarr signed packet any pkarr client resolves from the identity key.
        case `public`
        /// Nothing.
        case off
    }

    /// Whether the node relays for its friends.
    public enum RelayPolicy: String, Sendable, Hashable, CaseIterable {
        /// Anyone may reach this node's friends through it (within the relay limits).
        case friends
        /// It relays for no one.
        case off
    }

    /// Whether the AI starts conversations on its own.
    public enum MeetPolicy: String, Sendable, Hashable, CaseIterable {
        /// It opens conversations with promising friends of friends.
        case auto
        /// It suggests them to the person (`kith suggestions`).
        case ask
        /// It never starts one on its own.
        case never
    }

    /// How incoming connection proposals are answered.
    public enum ConnectPolicy: String, Sendable, Hashable, CaseIterable {
        /// Queue for the person to decide.
        case ask
        /// Accept automatically.
        case auto
        /// Refuse.
        case never
    }

    /// Persona engine settings.
    public struct EngineSettings: Sendable, Hashable {
        /// Which engine.
        public var kind: EngineKind = .embedded
        /// Base URL of an OpenAI-compatible server (`openai`).
        public var url: String?
        /// Model name (`openai`).
        public var model: String?
        /// Name of the environment variable holding the API key (`openai`).
        public var apiKeyEnv: String?
        /// Path of the turn script (`script`).
        public var script: String?
        /// Seed for deterministic engines.
        public var seed: UInt64?

        /// The default: the embedded engine.
        public init() {}
    }

    /// The available persona engines.
    public enum EngineKind: String, Sendable, Hashable, CaseIterable {
        /// Offline, deterministic, grounded in the model.
        case embedded
        /// Any OpenAI-compatible chat completions endpoint.
        case openai
        /// Turns read from a file (tests and rehearsals).
        case script
    }

    /// Limits on the model's contents.
    public enum Limits {
        /// Longest name, in bytes.
        public static let name = Manifest.Limits.name
        /// Longest bio, in bytes.
        public static let bio = Manifest.Limits.bio
        /// Most interests.
        public static let interests = Manifest.Limits.interests
        /// Longest interest, value or tag, in bytes.
        public static let word = Manifest.Limits.interest
        /// Most values.
        public static let values = 32
        /// Longest style description, in bytes.
        public static let style = 512
        /// Most memories.
        public static let memories = 1000
        /// Longest memory, in bytes.
        public static let memoryText = 4096
        /// Most tags on a memory.
        public static let tags = 16
        /// Largest identity.yaml, in bytes.
        public static let fileSize = 1 << 20
    }
}
