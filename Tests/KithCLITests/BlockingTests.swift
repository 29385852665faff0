import Foundation
import Testing

/// These tests wait on child processes (`kith run`, `kith talk`, Python) with blocking calls.
/// Run on Swift's cooperative pool (one thread per core), a few of them at once would starve
/// every async test in the same process — the in-process nodes of KithNodeTests among them — so
/// each suite here carries `.offCooperativePool`: its tests run on threads of their own.
struct OffCooperativePool: SuiteTrait, TestTrait, TestScoping {
    var isRecursive: Bool { true }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        // Scope each test (not the suite as a whole) to the blocking executor.
        guard testCase != nil || !test.isSuite else { return try await function() }
        try await withTaskExecutorPreference(BlockingExecutor.shared) { try await function() }
    }
}

extension Trait where Self == OffCooperativePool {
    /// Runs the tests on threads outside the cooperative pool (they block on child processes).
    static var offCooperativePool: Self { OffCooperativePool() }
}

/// A task executor that runs each job on a thread of its own, outside the cooperative pool, with
/// every signal blocked (so the children's SIGCHLD never interrupts a blocking read there).
final class BlockingExecutor: TaskExecutor {
    static let shared = BlockingExecutor()
    private static let marker = "kith.tests.blocking-executor"

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        let thread = Thread {
            var all = sigset_t()
            sigfillset(&all)
            pthread_sigmask(SIG_BLOCK, &all, nil)
            Thread.current.threadDictionary[Self.marker] = true
            job.runSynchronously(on: executor)
        }
        thread.start()
    }

    /// True on this executor's threads.
    static var isCurrent: Bool { Thread.current.threadDictionary[marker] as? Bool == true }
}

@Suite("Blocking tests stay off the cooperative pool", .serialized, .offCooperativePool)
struct OffCooperativePoolTests {
    @Test func aSynchronousTestRunsOnTheBlockingExecutor() {
        #expect(BlockingExecutor.isCurrent)
    }
}
