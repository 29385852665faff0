import CLibFuzzer
import Foundation
import KithFuzzTargets

// Built two ways (see Fuzz/run.sh):
// - with `-sanitize=fuzzer -D KITH_LIBFUZZER`: libFuzzer's main drives `LLVMFuzzerTestOneInput`,
//   and the environment variable KITH_FUZZ_TARGET names the target;
// - plainly: `kith-fuzz TARGET FILE_OR_DIR…` replays inputs (corpora, crash reproducers) once,
//   and `kith-fuzz seeds DIR` writes the generated seeds to DIR/TARGET/.

/// The target chosen by KITH_FUZZ_TARGET, read once.
let selectedTarget: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["KITH_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        FileHandle.standardError.write(Data("kith-fuzz: set KITH_FUZZ_TARGET to one of: \(names)\n".utf8))
        exit(2)
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    selectedTarget.run(input)
    return 0
}

#if KITH_LIBFUZZER
@main
struct Fuzz {
    static func main() {
        _ = selectedTarget
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) })
    }
}
#else
@main
struct Replay {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        if arguments.first == "seeds", arguments.count == 2 {
            writeSeeds(to: arguments.last!)
            return
        }
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name), arguments.count > 1 else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
            print("usage: kith-fuzz \(names) FILE_OR_DIR…   (replays each input once)\n       kith-fuzz seeds DIR")
            exit(2)
        }
        var count = 0
        for path in arguments.dropFirst() {
            for file in files(at: path) {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                target.run([UInt8](data))
                count += 1
            }
        }
        print("kith-fuzz: \(target.rawValue): replayed \(count) inputs, no property violated")
    }

    static func writeSeeds(to directory: String) {
        for target in FuzzTarget.allCases {
            let folder = directory + "/" + target.rawValue
            try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for (name, bytes) in target.generatedSeeds {
                _ = FileManager.default.createFile(atPath: folder + "/seed-" + name, contents: Data(bytes))
            }
        }
    }

    static func files(at path: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return [] }
        guard isDirectory.boolValue else { return [path] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.sorted().map { path + "/" + $0 }
    }
}
#endif
