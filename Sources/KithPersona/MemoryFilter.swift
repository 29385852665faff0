public import KithCrypto
public import KithModel

/// Which memories a peer may hear, and the keyed hashes that go into entries' `disclosed`.
public enum MemoryFilter {
    /// Public memories for everyone, friends-tier ones for friends, private ones never.
    public static func permitted(_ model: IdentityModel, peerIsFriend: Bool) -> [IdentityModel.Memory] {
        model.memories.filter { memory in
            switch memory.visibility {
            case .public: return true
            case .friends: return peerIsFriend
            case .private: return false
            }
        }
    }

    /// BLAKE2b-256 keyed with the node's model salt over UTF-8 `kith/v1/memory` ‖ 0x00 ‖ the
    /// memory's canonical CBOR: proves later which memory was given, reveals nothing without the
    /// salt (so short memories cannot be guessed from an export).
    public static func hash(_ memory: IdentityModel.Memory, salt: SecretBytes) -> [UInt8] {
        BLAKE2b.hash(parts: [Array("kith/v1/memory".utf8), [0], memory.canonicalCBOR.encoded()], key: salt)
    }
}
