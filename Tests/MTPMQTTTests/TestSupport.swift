import Foundation
import Logging
import MTP
import MTPMQTT
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum TestBroker {
    /// The broker from TANDEM_TEST_MQTT (`host:port`). Without it the test is skipped on a
    /// developer's machine but fails under CI (CI=true), where Scripts/test must have started one.
    static func address() throws -> (host: String, port: Int)? {
        let environment = ProcessInfo.processInfo.environment
        guard let value = environment["TANDEM_TEST_MQTT"], let colon = value.lastIndex(of: ":"),
            let port = Int(value[value.index(after: colon)...])
        else {
            if environment["CI"] == "true" {
                Issue.record("TANDEM_TEST_MQTT is not set: under CI, Scripts/test must start mosquitto and export it")
            }
            return nil
        }
        return (String(value[..<colon]), port)
    }
}

/// Topics and IDs unique to one test, so that tests can share the broker and run in parallel.
struct TestNames {
    let id = UUID().uuidString.lowercased()
    var controllerTopic: String { "tandem-test/\(id)/controller" }
    var agentTopic: String { "tandem-test/\(id)/agents/os::00D09E-\(id.prefix(8))" }
    var agentEndpointID: String { "os::00D09E-\(id.prefix(8))" }
    var controllerEndpointID: String { "self::tandem-\(id.prefix(8))" }
}

/// Collects what an async stream delivers, for tests that wait until something arrived.
final class Collector<Element: Sendable>: Sendable {
    private let storage = Mutex<(elements: [Element], finished: Bool)>(([], false))

    var elements: [Element] { storage.withLock { $0.elements } }
    var finished: Bool { storage.withLock { $0.finished } }

    func consume(_ stream: AsyncStream<Element>) async {
        for await element in stream {
            storage.withLock { $0.elements.append(element) }
        }
        storage.withLock { $0.finished = true }
    }

    /// Waits until `condition` holds for what has arrived; fails the test after `timeout`.
    @discardableResult
    func wait<T>(
        for what: String, timeout: Duration = .seconds(20), sourceLocation: SourceLocation = #_sourceLocation,
        _ condition: ([Element]) -> T?
    ) async throws -> T {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let result = condition(elements) { return result }
            try await Task.sleep(for: .milliseconds(20))
        }
        if let result = condition(elements) { return result }
        Issue.record("timed out after \(timeout) waiting for \(what)", sourceLocation: sourceLocation)
        throw CancellationError()
    }

    func waitUntilFinished(timeout: Duration = .seconds(20), sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try await wait(for: "the stream to finish", timeout: timeout, sourceLocation: sourceLocation) { _ in finished ? true : nil }
    }
}

extension [TransportEvent] {
    var linkUps: Int { filter { if case .linkUp = $0 { true } else { false } }.count }
    var linkDowns: [String] { compactMap { if case .linkDown(let reason) = $0 { reason } else { nil } } }
    var records: [InboundRecord] { compactMap { if case .record(let record) = $0 { record } else { nil } } }
}

/// A controller transport and a plain-client agent on the test broker.
struct Fixture {
    let names = TestNames()
    let broker: (host: String, port: Int)

    func transportConfiguration(version: MosquittoClient.ProtocolVersion = .v5, port: Int? = nil) -> MQTTTransport.Configuration {
        var configuration = MQTTTransport.Configuration(
            host: broker.host, port: port ?? broker.port, endpointID: names.controllerEndpointID, topic: names.controllerTopic)
        configuration.protocolVersion = version
        configuration.clientID = "ctl-\(names.id)"
        configuration.backoff = ReconnectBackoff(initial: .milliseconds(50), maximum: .milliseconds(400))
        configuration.operationTimeout = .seconds(10)
        return configuration
    }

    /// A simulated agent: a plain MosquittoClient subscribed to its own topic (and below it, where an
    /// MQTT 3.1.1 controller's records arrive with `/reply-to=` appended).
    func agent(version: MosquittoClient.ProtocolVersion = .v5, port: Int? = nil, suffix: String = "") async throws -> MosquittoClient {
        var configuration = MosquittoClient.Configuration(host: broker.host, port: port ?? broker.port, clientID: "agent-\(names.id)\(suffix)")
        configuration.protocolVersion = version
        configuration.connectUserProperties = [("usp-endpoint-id", names.agentEndpointID)]
        let agent = try MosquittoClient(configuration: configuration)
        try await agent.connect()
        try await agent.subscribe(names.agentTopic)
        try await agent.subscribe(names.agentTopic + "/+")
        return agent
    }
}

/// Runs `transport` while `body` runs, collecting its events; cancels it afterwards.
func withRunningTransport(
    _ transport: MQTTTransport, _ body: @Sendable @escaping (Collector<TransportEvent>) async throws -> Void
) async throws {
    let events = Collector<TransportEvent>()
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await transport.run() }
        group.addTask { await events.consume(transport.events) }
        do {
            try await body(events)
        } catch {
            group.cancelAll()
            throw error
        }
        group.cancelAll()
        try await group.waitForAll()
    }
}

func testLogger(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = ProcessInfo.processInfo.environment["TANDEM_TEST_LOG"] != nil ? .trace : .critical
    return logger
}

/// A mosquitto of the test's own on a free loopback port, for tests that stop and restart the broker.
final class PrivateBroker: @unchecked Sendable {
    let port: Int
    let directory: URL
    private var process: Process?
    /// More mosquitto.conf lines for the listener (TLS files, a password file).
    var extraConfiguration: String
    var allowAnonymous: Bool

    static var executable: String? {
        for path in ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto", "/usr/bin/mosquitto"]
        where FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        return nil
    }

    init(port: Int? = nil, extraConfiguration: String = "", allowAnonymous: Bool = true) throws {
        self.port = try port ?? freePort()
        self.extraConfiguration = extraConfiguration
        self.allowAnonymous = allowAnonymous
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-mqtt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // mosquitto drops root privileges to its own user, which must be able to read what is here.
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: directory.path)
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    func start() async throws {
        guard let executable = Self.executable else { throw MQTTError("mosquitto is not installed") }
        let configuration = """
            listener \(port) 127.0.0.1
            allow_anonymous \(allowAnonymous)
            persistence false
            log_dest none
            \(extraConfiguration)
            """
        let file = directory.appendingPathComponent("mosquitto.conf")
        try configuration.write(to: file, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-c", file.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if !process.isRunning { throw MQTTError("mosquitto exited at start (status \(process.terminationStatus))") }
            if canConnect(port: port) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw MQTTError("mosquitto did not listen on \(port) within 10 s")
    }

    /// Kills the broker (SIGKILL: a child spawned from a dispatch thread inherits a mask that blocks
    /// SIGTERM) and waits until its port is free again.
    func stop() {
        guard let process else { return }
        self.process = nil
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// A TCP port nobody listens on right now (bound to port 0, then released).
func freePort() throws -> Int {
    #if canImport(Glibc)
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
    let fd = socket(AF_INET, SOCK_STREAM, 0)
    #endif
    guard fd >= 0 else { throw MQTTError("socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw MQTTError("bind() failed") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { throw MQTTError("getsockname() failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
func canConnect(port: Int) -> Bool {
    #if canImport(Glibc)
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
    let fd = socket(AF_INET, SOCK_STREAM, 0)
    #endif
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    return result == 0
}
