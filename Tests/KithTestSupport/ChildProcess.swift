public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process for tests, started with `posix_spawn` directly. Foundation's `Process.run()`
/// on Linux (Swift 6.3.1) sometimes crashes the whole test runner: it lists `/proc/self/fd` and
/// over-reads `dirent` records (swift-corelibs-foundation #5472), likelier the more sockets a test
/// has open. This type has the part of `Process`'s interface the tests use.
public final class ChildProcess: @unchecked Sendable {
    // Sendable: configured and started by one test; `pid` and `status` are guarded by `lock`.
    public var executableURL: URL?
    public var arguments: [String] = []
    /// The child's environment; nil inherits this process's.
    public var environment: [String: String]?
    /// A `Pipe` or a `FileHandle` (nil inherits this process's).
    public var standardInput: Any?
    public var standardOutput: Any?
    public var standardError: Any?

    private let lock = NSLock()
    private var pid: pid_t = 0
    private var status: Int32?

    public init() {}

    /// The child's process id (0 before it starts).
    public var processIdentifier: Int32 { lock.withLock { pid } }

    /// Starts the child with every signal unblocked and at its default action (whatever the
    /// calling thread blocks), its standard streams as configured and no other descriptor open.
    public func run() throws {
        guard let path = executableURL?.path else { throw ChildProcessError("no executable") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (stream, target) in [(standardInput, Int32(0)), (standardOutput, 1), (standardError, 2)] {
            guard let fd = Self.descriptor(stream, reading: target == 0) else { continue }
            posix_spawn_file_actions_adddup2(&actions, fd, target)
        }
        Self.closeFrom(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        let env = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in env { free(p) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, path, &actions, &attributes, argv, env)
        guard rc == 0 else { throw ChildProcessError("cannot start \(path): \(String(cString: strerror(rc)))") }
        lock.withLock { pid = child }
        // The child holds its ends now: close them here, so reading a pipe ends when the child exits.
        if let pipe = standardInput as? Pipe { try? pipe.fileHandleForReading.close() }
        if let pipe = standardOutput as? Pipe { try? pipe.fileHandleForWriting.close() }
        if let pipe = standardError as? Pipe { try? pipe.fileHandleForWriting.close() }
    }

    /// Same as ``run()`` (children always start with signals unblocked).
    public func runUnblocked() throws { try run() }

    /// Waits for the child to exit and reaps it.
    public func waitUntilExit() {
        let child = processIdentifier
        guard child > 0, lock.withLock({ status == nil }) else { return }
        var raw: Int32 = 0
        while waitpid(child, &raw, 0) == -1 && errno == EINTR {}
        lock.withLock { status = raw }
    }

    /// True while the child has not exited (reaps it when it has).
    public var isRunning: Bool {
        let child = processIdentifier
        guard child > 0, lock.withLock({ status == nil }) else { return false }
        var raw: Int32 = 0
        let rc = waitpid(child, &raw, WNOHANG)
        if rc == child { lock.withLock { status = raw } }
        return rc == 0
    }

    /// Sends SIGTERM.
    public func terminate() {
        let child = processIdentifier
        if child > 0 && lock.withLock({ status == nil }) { kill(child, SIGTERM) }
    }

    /// The exit status, or the signal number when a signal ended it.
    public var terminationStatus: Int32 {
        let raw = lock.withLock { status } ?? 0
        return raw & 0x7f == 0 ? (raw >> 8) & 0xff : raw & 0x7f
    }

    /// Whether the child exited or a signal ended it.
    public var terminationReason: Process.TerminationReason {
        let raw = lock.withLock { status } ?? 0
        return raw & 0x7f == 0 ? .exit : .uncaughtSignal
    }

    /// Sends SIGTERM, then SIGKILL after `grace` seconds, and reaps the child.
    public func stopAndWait(grace: Double = 5) {
        guard isRunning else { return }
        terminate()
        let deadline = Date().addingTimeInterval(grace)
        while isRunning && Date() < deadline { usleep(10_000) }
        if isRunning { kill(processIdentifier, SIGKILL) }
        waitUntilExit()
    }

    private static func descriptor(_ stream: Any?, reading: Bool) -> Int32? {
        if let pipe = stream as? Pipe { return reading ? pipe.fileHandleForReading.fileDescriptor : pipe.fileHandleForWriting.fileDescriptor }
        if let handle = stream as? FileHandle { return handle.fileDescriptor }
        return nil
    }

    /// `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34+), which Swift's Glibc module does not
    /// export: looked up at run time; without it the child inherits descriptors.
    private static func closeFrom(_ actions: inout posix_spawn_file_actions_t, _ lowest: Int32) {
        typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return }
        _ = unsafeBitCast(symbol, to: AddCloseFrom.self)(&actions, lowest)
    }
}

/// Why a child process could not start.
public struct ChildProcessError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
