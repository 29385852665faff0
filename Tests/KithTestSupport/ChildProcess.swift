public import Foundation

extension Process {
    /// Starts the process with every signal unblocked in the child, whatever the calling thread
    /// blocks. Children inherit the spawning thread's signal mask, and the CLI tests run on threads
    /// that block every signal; a child started from there would ignore `terminate()` and outlive
    /// its test.
    public func runUnblocked() throws {
        var none = sigset_t(), previous = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        try run()
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
}
