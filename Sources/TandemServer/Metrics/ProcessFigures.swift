import Foundation

/// Process figures from `/proc/self` (Linux), named as Prometheus client libraries name them.
struct ProcessFigures: Sendable {
    var cpuSeconds: Double?
    var residentBytes: Double?
    var virtualBytes: Double?
    var openFileDescriptors: Double?
    var startTimeSeconds: Double?

    static func current() -> ProcessFigures {
        var figures = ProcessFigures()
        #if os(Linux)
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        {
            // Fields after the command name: state is field 3, utime 14, stime 15, starttime 22,
            // vsize 23, rss 24 (proc(5)).
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 22, ticks > 0 {
                if let utime = Double(fields[11]), let stime = Double(fields[12]) { figures.cpuSeconds = (utime + stime) / ticks }
                if let start = Double(fields[19]), let boot = bootTime() { figures.startTimeSeconds = boot + start / ticks }
                figures.virtualBytes = Double(fields[20])
                if let rss = Double(fields[21]) { figures.residentBytes = rss * pageSize }
            }
        }
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            figures.openFileDescriptors = Double(entries.count)
        }
        #endif
        return figures
    }

    private static func bootTime() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }
}
