import Engine
import Foundation
import HTTPAuthentication
import HTTPTypes
import Logging
import MTP
import MTPMQTT
import MTPWebSocket
import NetworkTestSupport
import NIOCore
import NIOHTTP1
import NIOWebSocket
import Registry
import ServiceLifecycle
import TandemCore
import TandemServer
import Testing
import USPAgentSimulator

/// A private mosquitto on a fixed port that can be stopped and started again.
final class RestartableMosquitto: @unchecked Sendable {
    let port: Int
    private let directory: String
    private var process: Process?

    init() throws {
        directory = temporaryDirectory("tandem-mosquitto")
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: directory)
        port = try freeTCPPort()
        let configuration = "listener \(port) 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest file \(directory)/mosquitto.log\n"
        try Data(configuration.utf8).write(to: URL(fileURLWithPath: directory + "/mosquitto.conf"))
    }

    func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/mosquitto")
        process.arguments = ["-c", directory + "/mosquitto.conf"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        let deadline = Date().addingTimeInterval(10)
        while !canConnect(port: port) {
            guard Date() < deadline else { throw TestFailure("mosquitto did not start on \(port)") }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    func stop() {
        guard let process else { return }
        killBroker(process)
        self.process = nil
    }

    deinit {
        stop()
        remove(directory)
    }
}

/// Runs a blocking `tandem` command off the cooperative thread pool.
func runTandemAsync(_ arguments: [String]) async throws -> CommandResult {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try runTandem(arguments) }) }
    }
}

/// A server running in a task group for the broker tests: its API port, a read-only token, and the
/// link state as `/metrics` and `tandem status` show it.
struct RunningServer: Sendable {
    let server: TandemServer
    let apiPort: Int
    let token: String

    /// Loopback listeners on free ports, no WebSocket MTP; the test adds its broker.
    static func configuration(directory: String, endpointID: String) -> TandemConfiguration {
        var configuration = TandemConfiguration()
        configuration.dataDirectory = directory
        configuration.api.listen = ListenAddress(host: "127.0.0.1", port: 0)
        configuration.cwmp.listen = ListenAddress(host: "127.0.0.1", port: 0)
        configuration.usp.endpointID = endpointID
        configuration.usp.webSocketListen = nil
        return configuration
    }

    /// Builds the server, creates a read-only token, runs `server.run()` and calls `body` once the
    /// API listens; cancels the server when `body` returns.
    static func with(_ configuration: TandemConfiguration, _ body: @escaping @Sendable (RunningServer) async throws -> Void) async throws {
        var logger = Logger(label: "broker-test")
        logger.logLevel = .warning
        let server = try TandemServer(configuration: configuration, logger: logger)
        let secret = BearerToken.makeSecret()
        let stored = try await server.registry.createToken(name: "status", role: .readOnly, secretHash: BearerToken.hash(secret), actor: "test")
        let token = BearerToken(id: stored.id, secret: secret).text
        let (ports, continuation) = AsyncStream.makeStream(of: (String, Int).self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run { name, address in continuation.yield((name, Int(address.split(separator: ":").last ?? "") ?? 0)) } }
            defer { group.cancelAll() }
            var apiPort = 0
            for await (name, port) in ports where name == "api" {
                apiPort = port
                break
            }
            try await body(RunningServer(server: server, apiPort: apiPort, token: token))
        }
    }

    func metrics() async throws -> String {
        try await fetch("http://127.0.0.1:\(apiPort)/metrics").body
    }

    /// Waits until `/metrics` says the MTP's link is up (true) or down (false).
    func waitForLink(_ mtp: String, up: Bool, within timeout: Duration = .seconds(30)) async throws -> Bool {
        try await USPControllerLiveTests.eventually(timeout) { try await metrics().contains("tandem_mtp_link_up{mtp=\"\(mtp)\"} \(up ? 1 : 0)") }
    }

    /// The MTP's entry of `tandem status --json`, run as the real command.
    func status(_ mtp: String) async throws -> [String: Any] {
        let result = try await runTandemAsync(["status", "--server", "http://127.0.0.1:\(apiPort)", "--token", token, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        return try #require((object?["mtps"] as? [[String: Any]])?.first { $0["name"] as? String == mtp })
    }

    /// The human-readable `tandem status` table.
    func statusTable() async throws -> String {
        try await runTandemAsync(["status", "--server", "http://127.0.0.1:\(apiPort)", "--token", token]).stdout
    }
}

/// Checks that the waits between consecutive connection attempts (seen by a refusing proxy) grow:
/// the gap after attempt i is at least `minimumGaps[i]` (the backoff's lower bound; a loaded machine
/// only makes gaps longer). A fixed retry interval, or a hot loop, fails.
func expectBackoff(_ attempts: [ContinuousClock.Instant], minimumGaps: [Duration], sourceLocation: SourceLocation = #_sourceLocation) {
    let gaps = zip(attempts.dropFirst(), attempts).map { $0 - $1 }
    #expect(gaps.count >= minimumGaps.count, "only \(attempts.count) attempts", sourceLocation: sourceLocation)
    for (gap, minimum) in zip(gaps, minimumGaps) {
        #expect(gap >= minimum * 0.95, "gaps \(gaps) below the backoff's \(minimumGaps)", sourceLocation: sourceLocation)
    }
}

/// Brokers that go away and come back: the MTP reconnects with backoff, and its link state shows in
/// `/metrics` and in `tandem status` throughout; what agents publish meanwhile is not lost.
@Suite(.timeLimit(.minutes(5))) struct FailingDependencyTests {
    @Test func mqttBrokerRestartIsSurvivedAndVisible() async throws {
        guard mosquittoAvailable() else { return }
        let broker = try RestartableMosquitto()
        try broker.start()
        let directory = temporaryDirectory()
        defer { remove(directory) }
        var configuration = RunningServer.configuration(directory: directory, endpointID: "self::tandem-restart")
        configuration.usp.mqttBroker = try BrokerURL(parsing: "mqtt://127.0.0.1:\(broker.port)", schemes: ["mqtt": 1883])
        configuration.usp.mqttTopic = "usp/controller/restart"
        try await RunningServer.with(configuration) { running in
            let server = running.server
            #expect(try await running.waitForLink("mqtt", up: true, within: .seconds(20)))
            #expect(try await running.status("mqtt")["up"] as? Bool == true)
            let table = try await running.statusTable()
            #expect(table.contains("mqtt") && table.contains("up"))

            // The broker goes away: the link is down, with the reason, in both places.
            broker.stop()
            #expect(try await running.waitForLink("mqtt", up: false, within: .seconds(20)))
            let down = try await running.status("mqtt")
            #expect(down["up"] as? Bool == false)
            #expect((down["reason"] as? String)?.isEmpty == false)
            #expect(try await running.metrics().contains(#"tandem_mtp_link_failures_total{mtp="mqtt"} 1"#))

            // It comes back on the same port: the MTP reconnects by itself and resubscribes, so an
            // agent that appears now is onboarded and answers.
            try await Task.sleep(for: .seconds(2))
            try broker.start()
            #expect(try await running.waitForLink("mqtt", up: true, within: .seconds(60)))
            #expect(try await running.status("mqtt")["up"] as? Bool == true)
            let agent = SimulatedAgent(
                identity: .init(oui: "00D09E", serialNumber: "RESTART1"), controllerEndpointID: "self::tandem-restart",
                mtp: .mqtt(host: "127.0.0.1", port: broker.port, controllerTopic: "usp/controller/restart", agentTopic: "usp/agent/restart", version: .v5))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await agent.run() }
                defer { group.cancelAll() }
                #expect(try await USPControllerLiveTests.eventually(.seconds(20)) { await agent.subscriptionIDs().count == 2 })
                let device = try #require(try await server.registry.device(try DeviceIdentifier(parsing: "os::00D09E-RESTART1")))
                let read = try await server.operations.submit(.get(paths: [try PathExpression("Device.DeviceInfo.SerialNumber")]), to: device, actor: "test")
                #expect(try await server.operations.wait(forTask: read.task.id, timeout: .seconds(10)).state == .done)
            }
        }
        broker.stop()
    }

    /// TR-369 R-MQTT.20 (QoS 1) with MQTT 5 sessions (3.1.2.4 Clean Start, 3.1.2.11.2 Session Expiry,
    /// 4.1 session state): Tandem's connection to the broker is cut and the broker unreachable for it
    /// (a refusing relay) while the agent, still connected, publishes ValueChange Notify requests with
    /// send_resp. The broker queues them in Tandem's session; once the link is back Tandem resumes
    /// it, stores every value and answers every NotifyResp (R-NOT.8). A Get queued while the link was
    /// down is not lost either: it waits in the registry and is delivered after the reconnection.
    @Test func qos1RecordsPublishedWhileTheMQTTLinkIsDownAreDeliveredAfterReconnection() async throws {
        guard mosquittoAvailable() else { return }
        let broker = try RestartableMosquitto()
        try broker.start()
        defer { broker.stop() }
        let proxy = try await TCPProxy.start(upstreamHost: "127.0.0.1", upstreamPort: broker.port)
        let directory = temporaryDirectory()
        defer { remove(directory) }
        var configuration = RunningServer.configuration(directory: directory, endpointID: "self::tandem-qos1")
        configuration.usp.mqttBroker = try BrokerURL(parsing: "mqtt://127.0.0.1:\(proxy.port)", schemes: ["mqtt": 1883])
        configuration.usp.mqttTopic = "usp/controller/qos1"
        configuration.usp.valueChangePaths = ["Device.X_TANDEM_Queue."]
        configuration.usp.brokerRetryInitialSeconds = 0.2
        configuration.usp.brokerRetryMaximumSeconds = 1.6
        try await RunningServer.with(configuration) { running in
            let server = running.server
            #expect(try await running.waitForLink("mqtt", up: true))
            // The agent reaches the broker directly; only Tandem goes through the relay.
            let agent = SimulatedAgent(
                identity: .init(oui: "00D09E", serialNumber: "QOS1"), controllerEndpointID: "self::tandem-qos1",
                mtp: .mqtt(host: "127.0.0.1", port: broker.port, controllerTopic: "usp/controller/qos1", agentTopic: "usp/agent/qos1", version: .v5))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await agent.run() }
                defer { group.cancelAll() }
                #expect(try await USPControllerLiveTests.eventually(.seconds(30)) { await agent.subscriptionIDs().count == 3 })
                let device = try #require(try await server.registry.device(try DeviceIdentifier(parsing: "os::00D09E-QOS1")))
                #expect(try await USPControllerLiveTests.eventually(.seconds(30)) {
                    try await server.registry.parameters(deviceID: device.id, under: "Device.DeviceInfo.SerialNumber").first?.value?.lexical == "QOS1"
                })

                // Tandem's link is cut and stays down.
                proxy.refuseConnections()
                proxy.dropConnections()
                #expect(try await running.waitForLink("mqtt", up: false))
                let down = try await running.status("mqtt")
                #expect(down["up"] as? Bool == false && (down["reason"] as? String)?.isEmpty == false)
                let firstAttempt = proxy.attemptTimes.count

                // Outbound while down: the MTP refuses at once and says why; a task waits in the registry.
                let mqtt = try #require(server.transports.first { $0.name == "mqtt" })
                let refusal = await #expect(throws: (any Error).self) {
                    try await mqtt.send([1, 2, 3], to: MTPAddress(transport: "mqtt", destination: "usp/agent/qos1"))
                }
                #expect("\(refusal.map { "\($0)" } ?? "")".contains("is down"))
                let read = try await server.operations.submit(.get(paths: [try PathExpression("Device.DeviceInfo.SoftwareVersion")]), to: device, actor: "test")
                #expect(try await server.registry.task(id: read.task.id)?.state == .queued)

                // Inbound while down: the agent publishes QoS 1 Notify requests with send_resp.
                let nonce = UUID().uuidString.prefix(6)
                let expected = Dictionary(uniqueKeysWithValues: (1...6).map { ("Device.X_TANDEM_Queue.Value\($0)", "v\($0)-\(nonce)") })
                var notifications: [String] = []
                for (path, value) in expected.sorted(by: { $0.key < $1.key }) {
                    notifications.append(try #require(try await agent.changeValueExpectingResponse(path, to: value), "no ValueChange subscription for \(path)"))
                }
                let sent = Set(notifications)
                // Reconnection attempts keep coming, further and further apart (0.1–0.2 s, 0.2–0.4 s, 0.4–0.8 s…).
                #expect(try await USPControllerLiveTests.eventually(.seconds(30)) { proxy.attemptTimes.count >= firstAttempt + 4 })
                expectBackoff(Array(proxy.attemptTimes[firstAttempt...]), minimumGaps: [.milliseconds(200), .milliseconds(400), .milliseconds(800)])
                #expect(try await server.registry.parameters(deviceID: device.id, under: "Device.X_TANDEM_Queue.").isEmpty)
                #expect(await agent.answeredNotifications.isDisjoint(with: sent))

                // The link comes back: every value is stored, every Notify answered, the Get delivered.
                proxy.acceptConnections()
                #expect(try await running.waitForLink("mqtt", up: true))
                #expect(try await USPControllerLiveTests.eventually(.seconds(30)) {
                    let stored = try await server.registry.parameters(deviceID: device.id, under: "Device.X_TANDEM_Queue.")
                    return Dictionary(uniqueKeysWithValues: stored.map { ($0.path, $0.value?.lexical ?? "") }) == expected
                })
                #expect(try await USPControllerLiveTests.eventually(.seconds(30)) { await agent.answeredNotifications.isSuperset(of: sent) })
                let done = try await server.operations.wait(forTask: read.task.id, timeout: .seconds(30))
                #expect(done.state == .done)
                #expect(done.result?.value(at: "Device.DeviceInfo.SoftwareVersion") == .string("1.0.0"))
                let up = try await running.status("mqtt")
                #expect(up["up"] as? Bool == true && up["failures"] as? Int == 1)
            }
        }
        await proxy.close()
    }

    /// The STOMP broker connection is lost and the broker stays unreachable for a while (a refusing
    /// relay in front of ActiveMQ, which other tests share): the link shows down in `/metrics` and
    /// `tandem status`, the transport retries with growing waits (R-STOMP.7 retry state), and once
    /// the broker is reachable again the link is up and an agent's traffic flows both ways.
    @Test func stompBrokerLossIsRetriedWithBackoffVisibleAndRecovered() async throws {
        guard let broker = USPBrokeredLiveTests.broker("TANDEM_TEST_STOMP") else { return }
        let proxy = try await TCPProxy.start(upstreamHost: broker.host, upstreamPort: broker.port)
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let controllerQueue = "/queue/tandem-controller-\(suffix)"
        var configuration = RunningServer.configuration(directory: directory, endpointID: "self::tandem-stomp-loss")
        configuration.usp.stompBroker = try BrokerURL(parsing: "stomp://127.0.0.1:\(proxy.port)", schemes: ["stomp": 61613])
        configuration.usp.stompDestination = controllerQueue
        configuration.usp.brokerRetryInitialSeconds = 0.2
        configuration.usp.brokerRetryMaximumSeconds = 3.2
        try await RunningServer.with(configuration) { running in
            let server = running.server
            #expect(try await running.waitForLink("stomp", up: true))
            #expect(try await running.status("stomp")["up"] as? Bool == true)

            // The broker goes away for Tandem: connections are cut and new ones refused.
            proxy.refuseConnections()
            proxy.dropConnections()
            #expect(try await running.waitForLink("stomp", up: false))
            let down = try await running.status("stomp")
            #expect(down["up"] as? Bool == false && (down["reason"] as? String)?.isEmpty == false)
            #expect(try await running.metrics().contains(#"tandem_mtp_link_failures_total{mtp="stomp"} 1"#))
            #expect(try await running.statusTable().contains("stomp"))
            let firstAttempt = proxy.attemptTimes.count
            // Retry n waits between m·2^(n-1) and m·2^n (m = 0.2 s): gaps of at least 0.4 s, 0.8 s, 1.6 s.
            #expect(try await USPControllerLiveTests.eventually(.seconds(30)) { proxy.attemptTimes.count >= firstAttempt + 4 })
            expectBackoff(Array(proxy.attemptTimes[firstAttempt...]), minimumGaps: [.milliseconds(400), .milliseconds(800), .milliseconds(1600)])

            // The broker is reachable again: the link comes back by itself and traffic flows.
            proxy.acceptConnections()
            #expect(try await running.waitForLink("stomp", up: true))
            let up = try await running.status("stomp")
            #expect(up["up"] as? Bool == true && up["failures"] as? Int == 1)
            let agent = SimulatedAgent(
                identity: .init(oui: "00D09E", serialNumber: "STOMPLOSS\(suffix)"), controllerEndpointID: "self::tandem-stomp-loss",
                mtp: .stomp(host: broker.host, port: broker.port, controllerDestination: controllerQueue, agentDestination: "/queue/agent-\(suffix)"))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await agent.run() }
                defer { group.cancelAll() }
                #expect(try await USPControllerLiveTests.eventually(.seconds(30)) { await agent.subscriptionIDs().count == 2 })
                let device = try #require(try await server.registry.device(try DeviceIdentifier(parsing: "os::00D09E-STOMPLOSS\(suffix)")))
                let get = try await server.operations.submit(.get(paths: [try PathExpression("Device.DeviceInfo.ModelName")]), to: device, actor: "test")
                let done = try await server.operations.wait(forTask: get.task.id, timeout: .seconds(20))
                #expect(done.state == .done)
                #expect(done.result?.value(at: "Device.DeviceInfo.ModelName") == .string("SimGateway 2"))
            }
        }
        await proxy.close()
    }
}
