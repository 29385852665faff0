import Foundation
import KithCrypto
import KithModel
import KithTestSupport
import Testing

@Suite("Key file")
struct KeyFileTests {
    @Test func writesAnOwnerOnlyFileAndReadsTheSameKeysBack() throws {
        let dir = try Fixtures.temporaryDirectory()
        let path = dir.appendingPathComponent("identity.key").path
        let keys = NodeKeys.generate()
        try KeyFile.write(keys, to: path)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let back = try KeyFile.read(from: path)
        #expect(back.identity == keys.identity)
        #expect(back.modelSalt.constantTimeEquals(keys.modelSalt))
        #expect(!(try KeyFile.isPassphraseProtected(at: path)))
        #expect(throws: KeyFileError.self) { try KeyFile.write(keys, to: path) }
    }

    @Test(arguments: [0o640, 0o604, 0o660, 0o644, 0o602])
    func refusesKeysOthersCanReadOrWrite(mode: Int) throws {
        let dir = try Fixtures.temporaryDirectory()
        let path = dir.appendingPathComponent("identity.key").path
        try KeyFile.write(NodeKeys.generate(), to: path)
        #expect(chmod(path, mode_t(mode)) == 0)
        #expect {
            try KeyFile.read(from: path)
        } throws: { error in
            (error as? KeyFileError)?.message.contains("chmod 600") == true
        }
    }

    @Test func passphraseProtectedKeysNeedTheRightPassphrase() throws {
        let dir = try Fixtures.temporaryDirectory()
        let path = dir.appendingPathComponent("identity.key").path
        let keys = NodeKeys.generate()
        var pass = Array("a long passphrase".utf8)
        let passphrase = SecretBytes(consuming: &pass)
        try KeyFile.write(keys, to: path, passphrase: passphrase, cost: .interactive)
        #expect(try KeyFile.isPassphraseProtected(at: path))
        #expect(try KeyFile.read(from: path, passphrase: passphrase).identity == keys.identity)
        var wrong = Array("another passphrase".utf8)
        #expect(throws: KeyFileError.self) { try KeyFile.read(from: path, passphrase: SecretBytes(consuming: &wrong)) }
        #expect(throws: KeyFileError.self) { try KeyFile.read(from: path) }
        // The seed never appears in the file in the clear.
        let raw = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let seed = keys.signing.seed().withUnsafeBytes { Array($0) }
        #expect(!raw.indices.dropLast(31).contains { Array(raw[$0..<$0 + 32]) == seed })
    }

    @Test func damagedFilesGiveClearErrors() throws {
        let dir = try Fixtures.temporaryDirectory()
        let path = dir.appendingPathComponent("identity.key").path
        try KeyFile.write(NodeKeys.generate(), to: path)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes.removeLast()
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(chmod(path, 0o600) == 0)
        #expect(throws: KeyFileError.self) { try KeyFile.read(from: path) }
        #expect(throws: KeyFileError.self) { try KeyFile.read(from: dir.appendingPathComponent("missing").path) }
    }
}
