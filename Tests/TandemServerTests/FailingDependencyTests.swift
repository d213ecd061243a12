import Engine
import Foundation
import HTTPAuthentication
import HTTPTypes
import Logging
import MTPMQTT
import MTPWebSocket
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

/// Brokers that go away and come back: the MTP reconnects with backoff, and its link state shows in
/// `/metrics` and in `tandem status` throughout.
@Suite struct FailingDependencyTests {
    @Test func mqttBrokerRestartIsSurvivedAndVisible() async throws {
        guard mosquittoAvailable() else { return }
        let broker = try RestartableMosquitto()
        try broker.start()
        let directory = temporaryDirectory()
        defer { remove(directory) }
        var configuration = TandemConfiguration()
        configuration.dataDirectory = directory
        configuration.api.listen = ListenAddress(host: "127.0.0.1", port: 0)
        configuration.cwmp.listen = ListenAddress(host: "127.0.0.1", port: 0)
        configuration.usp.endpointID = "self::tandem-restart"
        configuration.usp.webSocketListen = nil
        configuration.usp.mqttBroker = try BrokerURL(parsing: "mqtt://127.0.0.1:\(broker.port)", schemes: ["mqtt": 1883])
        configuration.usp.mqttTopic = "usp/controller/restart"
        var logger = Logger(label: "restart")
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
            let api = apiPort
            @Sendable func metric() async throws -> String {
                try await fetch("http://127.0.0.1:\(api)/metrics").body
            }
            func status() async throws -> [String: Any] {
                let result = try await runTandemAsync(["status", "--server", "http://127.0.0.1:\(api)", "--token", token, "--json"])
                #expect(result.status == 0, "\(result.stderr)")
                let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
                return try #require((object?["mtps"] as? [[String: Any]])?.first { $0["name"] as? String == "mqtt" })
            }

            #expect(try await USPControllerLiveTests.eventually(.seconds(20)) { try await metric().contains(#"tandem_mtp_link_up{mtp="mqtt"} 1"#) })
            #expect(try await status()["up"] as? Bool == true)
            let table = try await runTandemAsync(["status", "--server", "http://127.0.0.1:\(api)", "--token", token])
            #expect(table.stdout.contains("mqtt") && table.stdout.contains("up"))

            // The broker goes away: the link is down, with the reason, in both places.
            broker.stop()
            #expect(try await USPControllerLiveTests.eventually(.seconds(20)) { try await metric().contains(#"tandem_mtp_link_up{mtp="mqtt"} 0"#) })
            let down = try await status()
            #expect(down["up"] as? Bool == false)
            #expect((down["reason"] as? String)?.isEmpty == false)
            #expect(try await metric().contains(#"tandem_mtp_link_failures_total{mtp="mqtt"} 1"#))

            // It comes back on the same port: the MTP reconnects by itself and resubscribes, so an
            // agent that appears now is onboarded and answers.
            try await Task.sleep(for: .seconds(2))
            try broker.start()
            #expect(try await USPControllerLiveTests.eventually(.seconds(60)) { try await metric().contains(#"tandem_mtp_link_up{mtp="mqtt"} 1"#) })
            #expect(try await status()["up"] as? Bool == true)
            let agent = SimulatedAgent(
                identity: .init(oui: "00D09E", serialNumber: "RESTART1"), controllerEndpointID: "self::tandem-restart",
                mtp: .mqtt(host: "127.0.0.1", port: broker.port, controllerTopic: "usp/controller/restart", agentTopic: "usp/agent/restart", version: .v5))
            group.addTask { try await agent.run() }
            #expect(try await USPControllerLiveTests.eventually(.seconds(20)) { await agent.subscriptionIDs().count == 2 })
            let device = try #require(try await server.registry.device(try DeviceIdentifier(parsing: "os::00D09E-RESTART1")))
            let read = try await server.operations.submit(.get(paths: [try PathExpression("Device.DeviceInfo.SerialNumber")]), to: device, actor: "test")
            #expect(try await server.operations.wait(forTask: read.task.id, timeout: .seconds(10)).state == .done)
        }
        broker.stop()
    }
}
