#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process's open-file limit: every CPE connection, agent session, broker link and the registry's
/// files take one descriptor each.
public enum OpenFileLimit {
    /// The soft limit now.
    public static var current: Int {
        var limit = rlimit()
        guard getrlimit(resourceNumber, &limit) == 0 else { return 1024 }
        return Int(clamping: limit.rlim_cur)  // RLIM_INFINITY is the largest value: Int.max
    }

    /// Raises the soft limit to the hard limit (as servers that hold many connections do); returns
    /// the limit in force afterwards.
    @discardableResult
    public static func raiseToHardLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(resourceNumber, &limit) == 0 else { return current }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(resourceNumber, &limit)
        }
        return current
    }

    /// The CWMP listener's connection cap when the configuration leaves it automatic: half the
    /// descriptors, never fewer than 256, so that connections never take the ones the registry
    /// (SQLite's files), the API, the USP MTPs and the connection requests need.
    public static func automaticCWMPConnections(limit: Int = current) -> Int {
        max(256, min(limit, 1 << 30) / 2)
    }

    #if canImport(Glibc)
    private static let resourceNumber = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
    private static let resourceNumber = RLIMIT_NOFILE
    #endif
}
