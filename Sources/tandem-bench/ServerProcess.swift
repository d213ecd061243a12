import Foundation
import NIOCore
import NIOPosix

/// The real `tandem serve` (release build) in its own process, with a temporary data directory and
/// configuration, its listeners on free loopback ports; CPU seconds and peak RSS from /proc.
final class ServerProcess: @unchecked Sendable {
    let process: Process
    let directory: String
    let cwmpPort: Int
    let apiPort: Int
    let webSocketPort: Int
    /// An admin bearer token (`tandem token create`).
    let token: String

    var pid: Int32 { process.processIdentifier }
    var acsURL: String { "http://127.0.0.1:\(cwmpPort)/" }
    var apiURL: String { "http://127.0.0.1:\(apiPort)" }
    var webSocketURL: String { "ws://127.0.0.1:\(webSocketPort)/usp" }
    var dataDirectory: String { directory + "/data" }

    struct Options {
        var maxConcurrentSessions = 10_000
        var mqttBroker: String?
        var mqttTopic = "usp/controller/tandem"
        var requestTimeoutSeconds = 30
        /// The server's `memoryTrimSeconds`: 10 s, the interval BENCHMARKS.md reports (the server's
        /// default is off).
        var memoryTrimSeconds = 10
    }

    init(tandem: String, under root: String, name: String, options: Options = Options()) async throws {
        directory = root + "/" + name
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        cwmpPort = try await freePort()
        apiPort = try await freePort()
        webSocketPort = try await freePort()
        var usp: [String: Any] = [
            "endpointId": "self::tandem-controller",
            // No baseline reads or subscriptions on contact: the scenarios measure one path each.
            "baselinePaths": [String](), "valueChangePaths": [String](),
            "requestTimeoutSeconds": options.requestTimeoutSeconds,
            "websocket": ["listen": "127.0.0.1:\(webSocketPort)", "path": "/usp"],
        ]
        if let broker = options.mqttBroker { usp["mqtt"] = ["broker": "mqtt://\(broker)", "topic": options.mqttTopic] }
        let configuration: [String: Any] = [
            "dataDirectory": directory + "/data",
            "log": ["level": "warning"],
            "memoryTrimSeconds": options.memoryTrimSeconds,
            "cwmp": [
                "listen": "127.0.0.1:\(cwmpPort)", "auth": ["mode": "open"],
                "maxConcurrentSessions": options.maxConcurrentSessions,
            ],
            "api": ["listen": "127.0.0.1:\(apiPort)"],
            "usp": usp,
        ]
        let configPath = directory + "/config.json"
        try JSONSerialization.data(withJSONObject: configuration, options: [.prettyPrinted]).write(to: URL(fileURLWithPath: configPath))

        // The token is written into the registry before the server opens it.
        let tokenOutput = try runTool(tandem, ["token", "create", "--data-dir", directory + "/data", "--name", "bench", "--role", "admin"])
        guard let secret = tokenOutput.split(whereSeparator: \.isWhitespace).last else { throw BenchError("tandem token create printed no token") }
        token = String(secret)

        process = Process()
        process.executableURL = URL(fileURLWithPath: tandem)
        process.arguments = ["serve", "--config", configPath]
        _ = FileManager.default.createFile(atPath: directory + "/stdout.log", contents: nil)
        _ = FileManager.default.createFile(atPath: directory + "/stderr.log", contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/stdout.log"))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/stderr.log"))
        try process.run()
        do {
            try await waitForListeners(["api", "cwmp"], timeout: .seconds(60))
            try await waitForPort(webSocketPort, timeout: .seconds(30))
        } catch {
            await stop()
            throw error
        }
    }

    private func waitForListeners(_ names: [String], timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let text = (try? String(contentsOfFile: directory + "/stdout.log", encoding: .utf8)) ?? ""
            if names.allSatisfy({ text.contains("tandem: \($0) listening on") }) { return }
            guard process.isRunning else {
                let log = (try? String(contentsOfFile: directory + "/stderr.log", encoding: .utf8)) ?? ""
                throw BenchError("tandem serve exited (status \(process.terminationStatus)): \(log.suffix(2000))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw BenchError("tandem serve did not start listening within \(timeout)")
    }

    /// utime + stime of the server, in seconds (/proc/PID/stat fields 14 and 15).
    func cpuSeconds() -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        // Fields after the command name, which may contain spaces: state is field 3.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// A line of /proc/PID/status in KiB: VmHWM (peak RSS) or VmRSS (now).
    func statusKiB(_ field: String) -> Double {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
        }
        return 0
    }

    var peakRSSKiB: Double { statusKiB("VmHWM") }
    var rssKiB: Double { statusKiB("VmRSS") }

    /// SIGTERM (graceful shutdown), then waits; SIGKILL after 20 s.
    func stop() async {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = ContinuousClock.now + .seconds(20)
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }
}

/// Runs a command to completion; its standard output, or an error naming its standard error.
func runTool(_ executable: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let output = out.fileHandleForReading.readDataToEndOfFile()
    let errors = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw BenchError("\(executable) \(arguments.joined(separator: " ")) failed: \(String(decoding: errors, as: UTF8.self))")
    }
    return String(decoding: output, as: UTF8.self)
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
func freePort() async throws -> Int {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .bind(host: "127.0.0.1", port: 0).get()
    let port = channel.localAddress?.port ?? 0
    try await channel.close()
    guard port > 0 else { throw BenchError("no free port") }
    return port
}

/// Waits until something accepts connections on 127.0.0.1:`port`.
func waitForPort(_ port: Int, timeout: Duration) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if let channel = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get() {
            try? await channel.close()
            return
        }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw BenchError("nothing listens on 127.0.0.1:\(port) after \(timeout)")
}
