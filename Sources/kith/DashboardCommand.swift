import ArgumentParser
import Foundation
import KithNode

struct DashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Print a sign-in address for the running node's dashboard and, on a desktop, open it.",
        discussion: """
            The address carries a single-use code, valid for a minute, that signs one browser in \
            (the token itself stays in $KITH_HOME/dashboard.token). The dashboard serves on \
            loopback only; `kith run --dashboard HOST:PORT` moves it, `--no-dashboard` turns it off.
            """)
    @OptionGroup var options: GlobalOptions
    @Flag(help: "Only print the address, even on a desktop.") var noOpen = false

    func run() async throws {
        let url = try await NodeCall(home: options.nodeHome).call(.dashboard, as: String.self)
        print(url)
        let env = ProcessInfo.processInfo.environment
        guard !noOpen, env["DISPLAY"] != nil || env["WAYLAND_DISPLAY"] != nil else { return }
        if !Self.open(url) { printErr("could not start xdg-open: open the address above in your browser") }
    }

    /// Hands `url` to the desktop's browser (`xdg-open`), without waiting for it.
    private static func open(_ url: String) -> Bool {
        var pid = pid_t()
        let args = ["xdg-open", url]
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        return posix_spawnp(&pid, "xdg-open", nil, nil, &argv, environ) == 0
    }
}
