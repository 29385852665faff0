import Yams

/// The part of an identity model a person edits in the dashboard: who they are and what they
/// remember. Policy and engine settings stay as `identity.yaml` has them.
public struct IdentityProfile: Sendable, Hashable, Codable {
    /// Display name.
    public var name: String
    /// Short biography, public.
    public var bio: String
    /// Interests, public.
    public var interests: [String]
    /// Values the person holds.
    public var values: [String]
    /// How the person speaks.
    public var style: String
    /// Memories, each with its visibility.
    public var memories: [ProfileMemory]

    /// One memory as edited: `visibility` is `public`, `friends` or `private`.
    public struct ProfileMemory: Sendable, Hashable, Codable {
        /// The memory itself.
        public var text: String
        /// Who may hear it: `public`, `friends` or `private`.
        public var visibility: String
        /// Topics it relates to.
        public var tags: [String]

        /// Creates a memory.
        public init(text: String, visibility: String, tags: [String] = []) {
            self.text = text
            self.visibility = visibility
            self.tags = tags
        }
    }

    /// Creates a profile.
    public init(name: String, bio: String, interests: [String], values: [String], style: String, memories: [ProfileMemory]) {
        self.name = name
        self.bio = bio
        self.interests = interests
        self.values = values
        self.style = style
        self.memories = memories
    }

    /// The editable part of `model`.
    public init(_ model: IdentityModel) {
        self.init(name: model.name, bio: model.bio, interests: model.interests, values: model.values, style: model.style,
                  memories: model.memories.map { ProfileMemory(text: $0.text, visibility: $0.visibility.rawValue, tags: $0.tags) })
    }
}

extension IdentityModel {
    /// `yaml` (an `identity.yaml`) with its name, bio, interests, values, style and memories
    /// replaced by `profile`'s; every other field is kept as it was. The result is validated as
    /// a whole, so an error names the field as `identity.yaml` would (`memories[2].text`).
    /// Comments in `yaml` are not kept.
    public static func editing(_ yaml: String, with profile: IdentityProfile) throws(IdentityModelError) -> (yaml: String, model: IdentityModel) {
        let root: Node
        do {
            guard let composed = try Yams.compose(yaml: yaml), case .mapping = composed else {
                throw IdentityModelError(field: "", line: nil, message: "identity.yaml is not a mapping; fix the file by hand first")
            }
            root = composed
        } catch let error as IdentityModelError {
            throw error
        } catch {
            throw IdentityModelError(field: "", line: nil, message: "identity.yaml is not valid YAML; fix the file by hand first (\(error))")
        }
        guard case .mapping(var mapping) = root else { throw IdentityModelError(field: "", line: nil, message: "not a mapping") }
        func text(_ s: String) -> Node { Node(s, Tag(.str), s.contains("\n") ? .literal : .plain) }
        func list(_ items: [String]) -> Node { .sequence(Node.Sequence(items.map(text))) }
        let edited: [(String, Node?)] = [
            ("name", text(profile.name)),
            ("bio", profile.bio.isEmpty ? nil : text(profile.bio)),
            ("interests", profile.interests.isEmpty ? nil : list(profile.interests)),
            ("values", profile.values.isEmpty ? nil : list(profile.values)),
            ("style", profile.style.isEmpty ? nil : text(profile.style)),
            ("memories", profile.memories.isEmpty ? nil : .sequence(Node.Sequence(profile.memories.map { m in
                var pairs: [(Node, Node)] = [(Node("text"), text(m.text)), (Node("visibility"), text(m.visibility))]
                if !m.tags.isEmpty { pairs.append((Node("tags"), list(m.tags))) }
                return .mapping(Node.Mapping(pairs))
            }))),
        ]
        for (key, value) in edited {
            if let value { mapping[Node(key)] = value } else { mapping[Node(key)] = nil }
        }
        let out: String
        do { out = try Yams.serialize(node: .mapping(mapping), allowUnicode: true) } catch {
            throw IdentityModelError(field: "", line: nil, message: "cannot write the edited model (\(error))")
        }
        // Validated exactly as a reload reads it.
        return (out, try IdentityModel(yaml: out))
    }
}
