import Foundation
import KithCrypto
import KithProtocol
import KithTestSupport
import Testing

private struct NoiseVector: Decodable {
    struct Message: Decodable { let payload: String; let ciphertext: String }
    let protocol_name: String
    let init_prologue: String
    let init_static: String?
    let init_ephemeral: String
    let init_remote_static: String?
    let resp_prologue: String
    let resp_static: String?
    let resp_ephemeral: String?
    let resp_remote_static: String?
    let handshake_hash: String
    let messages: [Message]
}

private func keyPair(_ hex: String?) throws -> X25519.KeyPair? {
    guard let hex else { return nil }
    var bytes = [UInt8](testHex: hex)
    return try X25519.KeyPair(secretKey: SecretBytes(consuming: &bytes))
}

@Suite("Noise: cacophony vectors")
struct NoiseVectorTests {
    private static func vectors() throws -> [NoiseVector] {
        struct File: Decodable { let vectors: [NoiseVector] }
        let data = try Data(contentsOf: Fixtures.publicVectors.appendingPathComponent("noise-cacophony-25519-chachapoly-blake2b.json"))
        return try JSONDecoder().decode(File.self, from: data).vectors
    }

    /// Runs one vector through an initiator and a responder, checking every ciphertext, payload
    /// and the handshake hash byte for byte.
    private static func run(_ v: NoiseVector) throws {
        let name = v.protocol_name.split(separator: "_")[1]
        let pattern = try #require(NoisePattern.all[String(name)], "unknown pattern \(name)")
        var initiator = try NoiseHandshake(
            pattern: pattern, initiator: true, prologue: [UInt8](testHex: v.init_prologue),
            localStatic: try keyPair(v.init_static), remoteStatic: v.init_remote_static.map { [UInt8](testHex: $0) },
            localEphemeral: try keyPair(v.init_ephemeral))
        var responder = try NoiseHandshake(
            pattern: pattern, initiator: false, prologue: [UInt8](testHex: v.resp_prologue),
            localStatic: try keyPair(v.resp_static), remoteStatic: v.resp_remote_static.map { [UInt8](testHex: $0) },
            localEphemeral: try keyPair(v.resp_ephemeral))
        var index = 0
        while !initiator.isComplete {
            let message = v.messages[index]
            let initiatorSends = initiator.isMyTurn
            let payload = [UInt8](testHex: message.payload)
            let wire: [UInt8]
            let read: [UInt8]
            if initiatorSends {
                wire = try initiator.writeMessage(payload: payload)
                read = try responder.readMessage(wire)
            } else {
                wire = try responder.writeMessage(payload: payload)
                read = try initiator.readMessage(wire)
            }
            #expect(wire.testHex == message.ciphertext, "\(v.protocol_name) handshake message \(index)")
            #expect(read == payload)
            index += 1
        }
        #expect(responder.isComplete)
        #expect(initiator.handshakeHash.testHex == v.handshake_hash, "\(v.protocol_name) handshake hash")
        #expect(responder.handshakeHash == initiator.handshakeHash)
        var i = try initiator.split(), r = try responder.split()
        while index < v.messages.count {
            let message = v.messages[index]
            let payload = [UInt8](testHex: message.payload)
            // Transport messages alternate, except in one-way patterns where only the initiator sends.
            let initiatorSends = pattern.isOneWay || index % 2 == 0
            let wire = initiatorSends ? try i.encrypt(payload) : try r.encrypt(payload)
            let read = initiatorSends ? try r.decrypt(wire) : try i.decrypt(wire)
            #expect(wire.testHex == message.ciphertext, "\(v.protocol_name) transport message \(index)")
            #expect(read == payload)
            index += 1
        }
    }

    @Test func theXXVectorPassesByteForByte() throws {
        let xx = try Self.vectors().filter { $0.protocol_name == "Noise_XX_25519_ChaChaPoly_BLAKE2b" }
        #expect(xx.count == 1)
        for v in xx { try Self.run(v) }
    }

    @Test func everyOtherPatternInTheFileAlsoPasses() throws {
        let all = try Self.vectors()
        #expect(all.count == 38)
        for v in all { try Self.run(v) }
    }
}

@Suite("Noise: failures end the session")
struct NoiseFailureTests {
    static func pair() throws -> (NoiseHandshake, NoiseHandshake) {
        (try NoiseHandshake(pattern: .XX, initiator: true, prologue: [1], localStatic: .generate()),
         try NoiseHandshake(pattern: .XX, initiator: false, prologue: [1], localStatic: .generate()))
    }

    static func established() throws -> (NoiseTransport, NoiseTransport) {
        var (i, r) = try pair()
        _ = try r.readMessage(try i.writeMessage())
        _ = try i.readMessage(try r.writeMessage())
        _ = try r.readMessage(try i.writeMessage())
        return (try i.split(), try r.split())
    }

    @Test func aTamperedHandshakeMessageFails() throws {
        var (i, r) = try Self.pair()
        _ = try r.readMessage(try i.writeMessage())
        var m2 = try r.writeMessage(payload: [1, 2, 3])
        m2[40] ^= 1
        #expect(throws: NoiseError.decryptionFailed) { try i.readMessage(m2) }
    }

    @Test func differentProloguesNeverAgree() throws {
        var i = try NoiseHandshake(pattern: .XX, initiator: true, prologue: Array("net-a".utf8), localStatic: .generate())
        var r = try NoiseHandshake(pattern: .XX, initiator: false, prologue: Array("net-b".utf8), localStatic: .generate())
        _ = try r.readMessage(try i.writeMessage())
        let m2 = try r.writeMessage()
        #expect(throws: NoiseError.decryptionFailed) { try i.readMessage(m2) }
    }

    @Test func outOfTurnAndTruncatedMessagesAreRefused() throws {
        var (i, r) = try Self.pair()
        #expect(throws: NoiseError.outOfOrder) { try r.writeMessage() }
        #expect(throws: NoiseError.messageTooShort) { try r.readMessage([1, 2, 3]) }
        _ = try r.readMessage(try i.writeMessage())
        #expect(throws: NoiseError.outOfOrder) { try i.writeMessage() }
    }

    @Test func transportRejectsReplayReorderAndTampering() throws {
        var (i, r) = try Self.established()
        let a = try i.encrypt([1]), b = try i.encrypt([2])
        #expect(throws: NoiseError.decryptionFailed) { try r.decrypt(b) }
        #expect(try r.decrypt(a) == [1])
        #expect(throws: NoiseError.decryptionFailed) { try r.decrypt(a) }
        var bad = b
        bad[0] ^= 1
        #expect(throws: NoiseError.decryptionFailed) { try r.decrypt(bad) }
        #expect(try r.decrypt(b) == [2])
    }

    @Test func nonceExhaustionEndsTheSession() throws {
        var (i, _) = try Self.established()
        i.send.setNonceForTesting(UInt64.max)
        #expect(throws: NoiseError.nonceExhausted) { try i.encrypt([1]) }
    }

    @Test func oversizedPlaintextIsRefused() throws {
        var (i, _) = try Self.established()
        #expect(throws: NoiseError.messageTooLong) { try i.encrypt([UInt8](repeating: 0, count: 65_520)) }
        #expect(try i.encrypt([UInt8](repeating: 0, count: 65_519)).count == 65_535)
    }
}
