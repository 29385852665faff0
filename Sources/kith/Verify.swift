import ArgumentParser
import Foundation
import KithModel
import KithProtocol
import KithNode

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify a signed object envelope file (exit 0 valid, 1 invalid with the reason).",
        discussion: "Checks the envelope's exact form, the payload's strict CBOR, every field, the signature and expiry.")

    @Argument(help: ArgumentHelp("The envelope file (- for standard input).", valueName: "FILE"))
    var file: String

    @Flag(help: "Accept an object whose validity period has ended.")
    var ignoreExpiry = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() async throws {
        let data: Data
        do {
            data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: file))
        } catch {
            throw NodeError("cannot read \(file): \(error.localizedDescription)")
        }
        if data.starts(with: Data(#"{"format":"kithlog/"#.utf8)) {
            throw NodeError("\(file) is a conversation export (kithlog), not a single signed object: check it with `kith audit \(file)`")
        }
        do {
            let object = try SignedObject(envelopeJSON: [UInt8](data))
            let verified = try VerifiedObject.verify(object, now: ignoreExpiry ? nil : WallClock.system.now())
            switch verified {
            case .manifest(let m):
                if json {
                    print(try ManifestPresenter.json(object, m, network: nil))
                } else {
                    print("valid manifest: \(m.name) \(m.id.did) seq \(m.seq) hash \(Hex.encode(object.hash))")
                }
            case .connection(let c):
                if json {
                    let fields: [String: Any] = ["type": c.kind.rawValue, "a": c.a.did, "b": c.b.did, "ts": c.ts, "by": c.by.did,
                                                 "hash": Hex.encode(object.hash)]
                    let out = try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes])
                    print(String(decoding: out, as: UTF8.self))
                } else {
                    print("valid \(c.kind.rawValue) record by \(c.by.did) for \(c.a.did) and \(c.b.did) hash \(Hex.encode(object.hash))")
                }
            }
        } catch let error as SignedObjectError {
            if json {
                let out = try JSONSerialization.data(withJSONObject: ["valid": false, "reason": error.description], options: [.sortedKeys])
                print(String(decoding: out, as: UTF8.self))
            } else {
                printErr("invalid: \(error)")
            }
            throw ExitCode(1)
        }
    }
}
