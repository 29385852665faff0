import Glibc

/// The process's open-file limit, which bounds how many connections a transport can hold.
public enum FileDescriptorLimit {
    /// Raises the soft limit to `count` (never above the hard limit, never lowering it).
    /// Returns the soft limit in force afterwards.
    @discardableResult
    public static func raise(toAtLeast count: Int) -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        let wanted = min(rlim_t(count), limit.rlim_max)
        if limit.rlim_cur < wanted {
            limit.rlim_cur = wanted
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        return Int(limit.rlim_cur)
    }
}
