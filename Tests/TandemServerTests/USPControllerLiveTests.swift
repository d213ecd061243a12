import Engine
import Foundation
import Logging
import MTP
import MTPMQTT
import MTPWebSocket
import HummingbirdWSClient
import NIOWebSocket
import NIOCore
import HTTPTypes
import Registry
import ServiceLifecycle
import TandemCore
import TandemServer
import Testing
import USP
import USPAgentSimulator

/// The USP controller with a real WebSocket MTP on loopback and simulated agents dialling it.
@Suite struct USPControllerLiveTests {
    func makeServer(_ directory: String) throws -> TandemServer {
        try TandemServerTests.makeServer(dataDirectory: directory, label: "test") { configuration in
            configuration.usp.endpointID = "self::tandem-test"
            configuration.usp.webSocketListen = ListenAddress(host: "127.0.0.1", port: 0)
        }
    }

    static func eventually(_ timeout: Duration = .seconds(10), _ condition: @Sendable () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    @Test func agentIsOnboardedAndOperationsRoundTripOverWebSocket() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let server = try makeServer(directory)
        try await withThrowingTaskGroup(of: Void.self) { outer in
            for service in server.uspServices { outer.addTask { try await service.run() } }
            defer { outer.cancelAll() }
            let wsPort = try await server.webSocketTransport!.listeningPort()
            let agent = SimulatedAgent(
                identity: .init(oui: "00D09E", productClass: "SimGateway", serialNumber: "WS0001", softwareVersion: "1.0.0"),
                controllerEndpointID: "self::tandem-test", mtp: .webSocket(url: "ws://127.0.0.1:\(wsPort)/usp"))
            outer.addTask { try await agent.run() }

            // Onboarding: registered, linked by os:: ID, subscriptions created, baseline read.
            #expect(try await Self.eventually { await agent.subscriptionIDs().count == 2 })
            #expect(await agent.subscriptionIDs() == ["tandem-boot", "tandem-operation-complete"])
            let device = try #require(try await server.registry.device(try DeviceIdentifier(parsing: "os::00D09E-WS0001")))
            #expect(device.protocols == [.usp])
            #expect(device.oui == "00D09E" && device.serialNumber == "WS0001")
            #expect(try await Self.eventually {
                try await server.registry.parameters(deviceID: device.id, under: "Device.DeviceInfo.SoftwareVersion").first?.value == .string("1.0.0")
            })
            #expect(await server.uspController.isOnline(deviceID: device.id))
            #expect(await agent.notificationsAnswered >= 1)  // OnBoardRequest answered with NotifyResp

            // Get
            let get = try await server.operations.submit(.get(paths: [try PathExpression("Device.WiFi.SSID.1.SSID")]), to: device, actor: "test")
            let gotten = try await server.operations.wait(forTask: get.task.id, timeout: .seconds(10))
            #expect(gotten.state == .done)
            #expect(gotten.result?.value(at: "Device.WiFi.SSID.1.SSID") == .string("home-0001"))

            // Set, with the registry updated
            let set = try await server.operations.submit(
                .set(values: [ParameterSetting(path: try PathExpression("Device.WiFi.SSID.1.SSID"), value: .string("tandem"))], allowPartial: false, parameterKey: nil),
                to: device, actor: "test")
            #expect(try await server.operations.wait(forTask: set.task.id, timeout: .seconds(10)).state == .done)
            #expect(await agent.value("Device.WiFi.SSID.1.SSID") == "tandem")
            #expect(try await server.registry.parameters(deviceID: device.id, under: "Device.WiFi.SSID.1.SSID").first?.value == .string("tandem"))

            // A refused Set maps the USP error to the neutral category.
            let refused = try await server.operations.submit(
                .set(values: [ParameterSetting(path: try PathExpression("Device.DeviceInfo.SerialNumber"), value: .string("x"))], allowPartial: false, parameterKey: nil),
                to: device, actor: "test")
            let faulted = try await server.operations.wait(forTask: refused.task.id, timeout: .seconds(10))
            #expect(faulted.state == .faulted)
            #expect(faulted.fault?.code == .usp(.parameterActionFailed))

            // GetInstances through the neutral discover operation.
            let discover = try await server.operations.submit(.discover(object: try PathExpression("Device.WiFi.SSID."), nextLevel: true), to: device, actor: "test")
            let discovered = try await server.operations.wait(forTask: discover.task.id, timeout: .seconds(10))
            #expect(discovered.state == .done)
            #expect(Set(discovered.result?.entries.map(\.path) ?? []) == ["Device.WiFi.SSID.1.", "Device.WiFi.SSID.2."])

            // Add and Delete
            let add = try await server.operations.submit(
                .add(object: try PathExpression("Device.WiFi.SSID."), parameters: [ParameterSetting(path: try PathExpression("SSID"), value: .string("iot"))]),
                to: device, actor: "test")
            let added = try await server.operations.wait(forTask: add.task.id, timeout: .seconds(10))
            #expect(added.state == .done)
            #expect(added.result?.createdObject == "Device.WiFi.SSID.3.")
            #expect(await agent.value("Device.WiFi.SSID.3.SSID") == "iot")
            #expect(try await server.registry.parameters(deviceID: device.id, under: "Device.WiFi.SSID.3.").first?.value == .string("iot"))
            let delete = try await server.operations.submit(.delete(objects: [try PathExpression("Device.WiFi.SSID.3.")]), to: device, actor: "test")
            #expect(try await server.operations.wait(forTask: delete.task.id, timeout: .seconds(10)).state == .done)
            #expect(await agent.instances(of: "Device.WiFi.SSID.") == ["Device.WiFi.SSID.1.", "Device.WiFi.SSID.2."])
            #expect(try await server.registry.parameters(deviceID: device.id, under: "Device.WiFi.SSID.3.").isEmpty)

            // Asynchronous Operate: the task completes with OperationComplete, then Boot! follows.
            let download = try await server.operations.submit(
                .download(FileTransfer(kind: .firmware, url: "http://files.example/fw-2.0.0.bin")), to: device, actor: "test")
            let downloaded = try await server.operations.wait(forTask: download.task.id, timeout: .seconds(10))
            #expect(downloaded.state == .done)
            #expect(try await Self.eventually { await agent.value("Device.DeviceInfo.SoftwareVersion") == "fw-2" })
            #expect(try await Self.eventually {
                try await server.registry.events(deviceID: device.id, limit: 50).contains { $0.kind == "boot" && $0.summary.contains("LocalReboot") }
            })

            // Reboot: synchronous Operate of Device.Reboot().
            let reboot = try await server.operations.submit(.reboot(commandKey: nil), to: device, actor: "test")
            #expect(try await server.operations.wait(forTask: reboot.task.id, timeout: .seconds(10)).state == .done)
            #expect(try await Self.eventually { await agent.bootCount >= 3 })
        }
    }

    @Test func agentJoinsTheRowOfItsCWMPSelfAndTasksQueuedUnderCWMPCarryOver() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let server = try makeServer(directory)
        let cwmp = try await server.registry.recordCWMPContact(
            try CWMPDeviceID(manufacturer: "Acme", oui: "00D09E", productClass: "SimGateway", serialNumber: "DUAL1"), details: DeviceDetails(), at: Date())
        _ = try await server.registry.updateTags(deviceID: cwmp.id, adding: ["pilot"], removing: [], actor: "test")
        // A task queued while the device spoke CWMP only.
        let queued = try await server.registry.enqueueTask(
            deviceID: cwmp.id, operation: .get(paths: [try PathExpression("Device.Time.NTPServer1")]), expiresAt: nil, actor: "test")
        try await withThrowingTaskGroup(of: Void.self) { outer in
            for service in server.uspServices { outer.addTask { try await service.run() } }
            defer { outer.cancelAll() }
            let wsPort = try await server.webSocketTransport!.listeningPort()
            let agent = SimulatedAgent(
                identity: .init(oui: "00D09E", productClass: "SimGateway", serialNumber: "DUAL1"),
                controllerEndpointID: "self::tandem-test", mtp: .webSocket(url: "ws://127.0.0.1:\(wsPort)/usp"))
            outer.addTask { try await agent.run() }
            #expect(try await Self.eventually { try await server.registry.device(.registryID(cwmp.id))?.uspEndpointID != nil })
            // The row is shared: same id, both protocols, tags kept.
            let device = try #require(try await server.registry.device(try DeviceIdentifier(parsing: "os::00D09E-DUAL1")))
            #expect(device.id == cwmp.id)
            #expect(device.protocols == [.cwmp, .usp])
            #expect(device.tags == ["pilot"])
            #expect(try await server.registry.countDevices(matching: DeviceFilter()) == 1)
            // The device is still managed over CWMP (switching is the migration's call), so the queued
            // task waits for a CWMP session rather than running over USP.
            #expect(try await server.registry.task(id: queued.id)?.state == .queued)
        }
    }

    @Test func recordsForAnotherEndpointAndGarbageAreDropped() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let server = try makeServer(directory)
        try await withThrowingTaskGroup(of: Void.self) { outer in
            for service in server.uspServices { outer.addTask { try await service.run() } }
            defer { outer.cancelAll() }
            let wsPort = try await server.webSocketTransport!.listeningPort()
            // An agent that believes the controller has another endpoint ID: every record is dropped.
            let misdirected = SimulatedAgent(
                identity: .init(oui: "00D09E", serialNumber: "LOST1"), controllerEndpointID: "self::someone-else",
                mtp: .webSocket(url: "ws://127.0.0.1:\(wsPort)/usp"))
            outer.addTask { try await misdirected.run() }
            #expect(try await Self.eventually {
                try await server.registry.events(deviceID: nil, limit: 20).contains { $0.kind == "protocolError" && $0.summary.contains("self::someone-else") }
            })
            #expect(try await server.registry.device(try DeviceIdentifier(parsing: "os::00D09E-LOST1")) == nil)
        }
    }
}

/// The same controller over the brokered MTPs that `Scripts/test` starts.
@Suite struct USPBrokeredLiveTests {
    /// `host:port` from an environment variable; under CI a missing broker is a failure, not a skip.
    static func broker(_ variable: String) -> (host: String, port: Int)? {
        let environment = ProcessInfo.processInfo.environment
        guard let value = environment[variable], let colon = value.lastIndex(of: ":"), let port = Int(value[value.index(after: colon)...]) else {
            if environment["CI"] == "true" { Issue.record("\(variable) is not set: Scripts/test must start the broker under CI") }
            return nil
        }
        return (String(value[..<colon]), port)
    }

    @Test func agentOverSTOMPIsOnboardedAndAnswers() async throws {
        guard let broker = Self.broker("TANDEM_TEST_STOMP") else { return }
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let suffix = UUID().uuidString.prefix(8)
        var configuration = TandemConfiguration()
        configuration.dataDirectory = directory
        configuration.usp.endpointID = "self::tandem-stomp"
        configuration.usp.webSocketListen = nil
        configuration.usp.stompBroker = try BrokerURL(parsing: "stomp://\(broker.host):\(broker.port)", schemes: ["stomp": 61613])
        configuration.usp.stompDestination = "/queue/tandem-controller-\(suffix)"
        let server = try TandemServer(configuration: configuration, logger: Logger(label: "test"))
        let agent = SimulatedAgent(
            identity: .init(oui: "00D09E", serialNumber: "STOMP\(suffix)"), controllerEndpointID: "self::tandem-stomp",
            mtp: .stomp(host: broker.host, port: broker.port, controllerDestination: "/queue/tandem-controller-\(suffix)", agentDestination: "/queue/agent-\(suffix)"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for service in server.uspServices { group.addTask { try await service.run() } }
            group.addTask { try await agent.run() }
            defer { group.cancelAll() }
            #expect(try await USPControllerLiveTests.eventually(.seconds(20)) { await agent.subscriptionIDs().count == 2 })
            let device = try #require(try await server.registry.device(try DeviceIdentifier(parsing: "os::00D09E-STOMP\(suffix)")))
            #expect(device.connection["mtp"] == "stomp")
            let get = try await server.operations.submit(.get(paths: [try PathExpression("Device.DeviceInfo.ModelName")]), to: device, actor: "test")
            let done = try await server.operations.wait(forTask: get.task.id, timeout: .seconds(10))
            #expect(done.state == .done)
            #expect(done.result?.value(at: "Device.DeviceInfo.ModelName") == .string("SimGateway 2"))
        }
    }

    @Test(arguments: [MosquittoVersionChoice.v5, .v311])
    func agentOverMQTTIsOnboardedAndAnswers(version: MosquittoVersionChoice) async throws {
        guard let broker = Self.broker("TANDEM_TEST_MQTT") else { return }
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let suffix = UUID().uuidString.prefix(8)
        var configuration = TandemConfiguration()
        configuration.dataDirectory = directory
        configuration.usp.endpointID = "self::tandem-mqtt"
        configuration.usp.webSocketListen = nil
        configuration.usp.mqttBroker = try BrokerURL(parsing: "mqtt://\(broker.host):\(broker.port)", schemes: ["mqtt": 1883])
        configuration.usp.mqttTopic = "usp/controller/\(suffix)"
        let server = try TandemServer(configuration: configuration, logger: Logger(label: "test"))
        let agent = SimulatedAgent(
            identity: .init(oui: "00D09E", serialNumber: "MQTT\(suffix)"), controllerEndpointID: "self::tandem-mqtt",
            mtp: .mqtt(host: broker.host, port: broker.port, controllerTopic: "usp/controller/\(suffix)", agentTopic: "usp/agent/\(suffix)", version: version.mosquitto))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for service in server.uspServices { group.addTask { try await service.run() } }
            // Give the controller time to subscribe before the agent announces itself.
            try await Task.sleep(for: .milliseconds(500))
            group.addTask { try await agent.run() }
            defer { group.cancelAll() }
            #expect(try await USPControllerLiveTests.eventually(.seconds(20)) { await agent.subscriptionIDs().count == 2 })
            let device = try #require(try await server.registry.device(try DeviceIdentifier(parsing: "os::00D09E-MQTT\(suffix)")))
            let set = try await server.operations.submit(
                .set(values: [ParameterSetting(path: try PathExpression("Device.Time.NTPServer1"), value: .string("ntp.example"))], allowPartial: false, parameterKey: nil),
                to: device, actor: "test")
            #expect(try await server.operations.wait(forTask: set.task.id, timeout: .seconds(10)).state == .done)
            #expect(await agent.value("Device.Time.NTPServer1") == "ntp.example")
        }
    }
}

enum MosquittoVersionChoice: String, Sendable, CustomStringConvertible {
    case v5, v311
    var description: String { rawValue }
}

extension MosquittoVersionChoice {
    var mosquitto: MosquittoClient.ProtocolVersion { self == .v5 ? .v5 : .v311 }
}

/// R-WS.14 through the whole server: garbage on the WebSocket MTP closes that session with 1003.
@Suite struct USPWebSocketHostileTests {
    @Test func unparseableRecordClosesTheSessionWith1003() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        var configuration = TandemConfiguration()
        configuration.dataDirectory = directory
        configuration.usp.endpointID = "self::tandem-test"
        configuration.usp.webSocketListen = ListenAddress(host: "127.0.0.1", port: 0)
        let server = try TandemServer(configuration: configuration, logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for service in server.uspServices { group.addTask { try await service.run() } }
            defer { group.cancelAll() }
            let port = try await server.webSocketTransport!.listeningPort()
            let close = try await WebSocketClient.connect(
                url: "ws://127.0.0.1:\(port)/usp?eid=proto::garbage",
                configuration: WebSocketClientConfiguration(additionalHeaders: [.secWebSocketProtocol: "v1.usp"]),
                logger: Logger(label: "test")
            ) { inbound, outbound, _ in
                try await outbound.write(.binary(ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 0x0F])))
                for try await _ in inbound {}
            }
            #expect(close?.closeCode == .unacceptableData)
            let events = try await server.registry.events(deviceID: nil, limit: 10)
            #expect(events.contains { $0.kind == "protocolError" && $0.summary.contains("unparseable USP record") })
        }
    }
}
