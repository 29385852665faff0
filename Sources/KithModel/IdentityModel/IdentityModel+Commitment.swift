public import KithCBOR
public import KithCrypto

extension IdentityModel {
    /// Checks rules that span fields (the YAML reader checks each field on its own).
    func validate() throws(IdentityModelError) {
        var seen = Set<String>()
        for (i, interest) in interests.enumerated() where !seen.insert(interest.lowercased()).inserted {
            throw IdentityModelError(field: "interests[\(i)]", line: nil, message: "'\(interest)' is listed twice")
        }
    }

    /// The canonical CBOR form of the whole model (every field, defaults included), as
    /// specified in `Protocol/identity.md`.
    public var canonicalCBOR: CBOR {
        var engineMap: [String: CBOR] = ["kind": .text(engine.kind.rawValue)]
        if let url = engine.url { engineMap["url"] = .text(url) }
        if let model = engine.model { engineMap["model"] = .text(model) }
        if let env = engine.apiKeyEnv { engineMap["api_key_env"] = .text(env) }
        if let script = engine.script { engineMap["script"] = .text(script) }
        if let seed = engine.seed { engineMap["seed"] = .unsigned(seed) }
        return .textMap([
            "v": 1,
            "name": .text(name),
            "bio": .text(bio),
            "interests": .array(interests.map(CBOR.text)),
            "values": .array(values.map(CBOR.text)),
            "style": .text(style),
            "memories": .array(memories.map(\.canonicalCBOR)),
            "policy": .textMap([
                "converse": .text(policy.converse.rawValue),
                "connect": .text(policy.connect.rawValue),
                "min_match": .int(Int64(policy.minMatchThousandths)),
                "max_turns": .int(Int64(policy.maxTurns)),
                "daily_conversations": .int(Int64(policy.dailyConversations)),
                "meet": .text(policy.meet.rawValue),
                "addresses": .text(policy.addresses.rawValue),
            ]),
            "engine": .textMap(engineMap),
        ])
    }

    /// The model commitment: keyed BLAKE2b-256 (key: the node's secret 32-byte salt) over
    /// UTF-8 `kith/v2/model` ‖ 0x00 ‖ the canonical CBOR of the model **without its private
    /// memories**. It proves a model version later without revealing it. Private memories never
    /// reach an engine, so they are not part of what spoke; leaving them out means editing one
    /// publishes nothing new (a re-signed manifest would tell everyone something private changed).
    public func commitment(salt: SecretBytes) -> [UInt8] {
        var shared = self
        shared.memories = memories.filter { $0.visibility != .private }
        return BLAKE2b.hash(parts: [Array("kith/v2/model".utf8), [0], shared.canonicalCBOR.encoded()], key: salt)
    }
}

extension IdentityModel.Memory {
    /// The canonical CBOR form of one memory: `{"text", "visibility", "tags"}`.
    public var canonicalCBOR: CBOR {
        .textMap(["text": .text(text), "visibility": .text(visibility.rawValue), "tags": .array(tags.map(CBOR.text))])
    }
}
