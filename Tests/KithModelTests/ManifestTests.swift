import Foundation
import KithCBOR
import KithCrypto
import KithModel
import KithTestSupport
import Testing

@Suite("Manifests and signed objects")
struct ManifestTests {
    static func sample(_ key: Ed25519.KeyPair, seq: UInt64 = 1) -> Manifest {
        Manifest(id: Identity(publicKey: key.publicKey), seq: seq, ts: 1_764_547_200_000, exp: 4_102_444_800_000,
                 name: "Ada", bio: "Climber and compiler nerd.", interests: ["climbing", "swift", "poetry"],
                 model: BLAKE2b.hash(Array("model".utf8)), endpoints: ["tcp://127.0.0.1:7400", "udp://[::1]:7400"],
                 caps: ["converse"], net: .main)
    }

    @Test func signedManifestVerifiesAndKeepsItsExactBytes() throws {
        let key = Ed25519.KeyPair.generate()
        let manifest = Self.sample(key)
        let object = try manifest.signed(with: key)
        #expect(try Manifest.verify(object) == manifest)
        #expect(object.bytes == manifest.payload.encoded())
        #expect(object.hash == BLAKE2b.hash(object.bytes + object.sig))
        let message = Array("kith/v1/manifest".utf8) + [0] + object.bytes
        #expect(key.publicKey.isValidSignature(object.sig, for: message))
    }

    /// Relays (issue 16): listed only when there are some, so a manifest without relays keeps
    /// exactly its earlier encoding; anything but 1–4 distinct other identities is refused.
    @Test func relaysAreOptionalBoundedAndStrict() throws {
        let key = Ed25519.KeyPair.generate()
        var manifest = Self.sample(key)
        #expect(manifest.payload.mapValue?[.text("relays")] == nil)
        let relay = NodeKeys.generate().identity
        manifest.relays = [relay]
        let object = try manifest.signed(with: key)
        #expect(try Manifest.verify(object).relays == [relay])
        func signed(_ edit: (inout [String: CBOR]) -> Void) -> SignedObject {
            var map: [String: CBOR] = [:]
            for (k, v) in Self.sample(key).payload.mapValue ?? [:] { if case .text(let name) = k { map[name] = v } }
            edit(&map)
            return SignedObject.sign(type: Manifest.type, payload: .textMap(map), with: key)
        }
        let hostile: [(String, SignedObject)] = [
            ("empty list", signed { $0["relays"] = .array([]) }),
            ("five relays", signed { $0["relays"] = .array((0..<5).map { _ in .bytes(NodeKeys.generate().identity.bytes) }) }),
            ("a short key", signed { $0["relays"] = .array([.bytes([1, 2, 3])]) }),
            ("text", signed { $0["relays"] = .array([.text(relay.did)]) }),
            ("its own identity", signed { $0["relays"] = .array([.bytes(key.publicKey.bytes)]) }),
            ("twice the same", signed { $0["relays"] = .array([.bytes(relay.bytes), .bytes(relay.bytes)]) }),
        ]
        for (name, object) in hostile { #expect(throws: SignedObjectError.self, "\(name)") { try Manifest.verify(object) } }
    }

    @Test func everySingleByteChangeToTheSignedBytesIsRejected() throws {
        let key = Ed25519.KeyPair.generate()
        let object = try Self.sample(key).signed(with: key)
        let combined = object.bytes + object.sig
        var accepted = 0
        for i in combined.indices {
            for delta in 1...255 {
                var changed = combined
                changed[i] &+= UInt8(delta)
                guard let candidate = try? SignedObject(type: "manifest", bytes: Array(changed[..<object.bytes.count]),
                                                        sig: Array(changed[object.bytes.count...])) else { continue }
                if (try? Manifest.verify(candidate)) != nil { accepted += 1 }
            }
        }
        #expect(accepted == 0)
    }

    @Test func everySingleByteChangeToTheEnvelopeFileIsRejected() throws {
        let key = Ed25519.KeyPair.generate()
        let file = Array((try Self.sample(key).signed(with: key).envelopeJSON + "\n").utf8)
        #expect(try Manifest.verify(SignedObject(envelopeJSON: file)).name == "Ada")
        var accepted: [Int] = []
        for i in file.indices {
            for delta: UInt8 in [0x01, 0x02, 0x20, 0x80, 0xff] {
                var changed = file
                changed[i] ^= delta
                if let object = try? SignedObject(envelopeJSON: changed), (try? Manifest.verify(object)) != nil {
                    accepted.append(i)
                }
            }
        }
        #expect(accepted.isEmpty)
        // Dropping or adding a byte is rejected too.
        #expect(throws: SignedObjectError.self) { try Manifest.verify(SignedObject(envelopeJSON: Array(file.dropFirst()))) }
        #expect(throws: SignedObjectError.self) { try SignedObject(envelopeJSON: file + [0x20]) }
    }

    @Test func expiryIsCheckedWhenATimeIsGiven() throws {
        let key = Ed25519.KeyPair.generate()
        let object = try Self.sample(key).signed(with: key)
        #expect(throws: SignedObjectError.self) { try Manifest.verify(object, now: 4_102_444_800_000) }
        #expect(try Manifest.verify(object, now: 4_102_444_799_999).seq == 1)
    }

    @Test func fieldLimitsAreEnforcedWhenSigningAndVerifying() throws {
        let key = Ed25519.KeyPair.generate()
        var m = Self.sample(key)
        m.bio = String(repeating: "x", count: 1025)
        #expect(throws: SignedObjectError.self) { try m.signed(with: key) }
        m = Self.sample(key)
        m.endpoints = ["http://example.com:80"]
        #expect(throws: SignedObjectError.self) { try m.signed(with: key) }
        m = Self.sample(key)
        m.interests = (0..<33).map { "i\($0)" }
        #expect(throws: SignedObjectError.self) { try m.signed(with: key) }
        m = Self.sample(key)
        m.exp = m.ts
        #expect(throws: SignedObjectError.self) { try m.signed(with: key) }
    }

    @Test func aSignatureByAnotherKeyOrForAnotherTypeIsRejected() throws {
        let key = Ed25519.KeyPair.generate()
        let manifest = Self.sample(key)
        let bytes = manifest.payload.encoded()
        let other = Ed25519.KeyPair.generate()
        let forged = try SignedObject(type: "manifest", bytes: bytes, sig: other.sign(SignedObject.signingMessage(type: "manifest", bytes: bytes)))
        #expect(throws: SignedObjectError.badSignature) { try Manifest.verify(forged) }
        let crossType = try SignedObject(type: "manifest", bytes: bytes, sig: key.sign(SignedObject.signingMessage(type: "entry", bytes: bytes)))
        #expect(throws: SignedObjectError.badSignature) { try Manifest.verify(crossType) }
    }

    @Test func wireFormRoundTripsAndIsStrict() throws {
        let key = Ed25519.KeyPair.generate()
        let object = try Self.sample(key).signed(with: key)
        let wire = object.wireValue.encoded()
        #expect(try SignedObject(wireValue: CBOR.decode(wire)) == object)
        var extra = object.wireValue.mapValue!
        extra[.text("x")] = 1
        #expect(throws: SignedObjectError.self) { try SignedObject(wireValue: .map(extra)) }
        #expect(throws: SignedObjectError.self) { try SignedObject(wireValue: ["type": "manifest", "bytes": .bytes([]), "sig": .bytes([1])]) }
    }

    @Test func unknownTypesAreReportedByTheGenericVerifier() throws {
        let key = Ed25519.KeyPair.generate()
        let object = SignedObject.sign(type: "gizmo", payload: ["a": 1], with: key)
        #expect {
            try VerifiedObject.verify(object)
        } throws: { error in
            (error as? SignedObjectError)?.description.contains("unknown object type 'gizmo'") == true
        }
    }

    @Test func networkIDIsTheDocumentedHash() {
        #expect(NetworkID.main.bytes == BLAKE2b.hash(Array("kith/v1/network/main".utf8)))
        #expect(NetworkID(name: "test") != NetworkID.main)
        #expect(NetworkID.isValidName("my-net_1.0"))
        #expect(!NetworkID.isValidName("bad name"))
    }
}
