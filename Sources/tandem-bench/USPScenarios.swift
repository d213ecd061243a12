import Foundation
import Logging
import MTPMQTT
import NIOHTTP1
import Simulator
import TandemCore
import USP
import USPAgentSimulator

/// A lean USP agent over MQTT 5: publishes ValueChange Notify records with send_resp to the
/// controller's topic (the response topic names its own) and counts NotifyResp records.
struct MQTTNotifier: Sendable {
    let client: MosquittoClient
    let endpointID: String
    let topic: String
    let controllerTopic: String
    let controllerID: String

    init(broker: String, index: Int, controllerTopic: String, controllerID: String) async throws {
        let parts = broker.split(separator: ":")
        var configuration = MosquittoClient.Configuration(host: String(parts[0]), port: Int(parts[1]) ?? 1883, clientID: "bench-agent-\(index)-\(UUID().uuidString.prefix(6))")
        configuration.protocolVersion = .v5
        configuration.messageBufferLimit = 100_000
        client = try MosquittoClient(configuration: configuration)
        endpointID = String(format: "os::ACDE48-MQTT%06d", index)
        topic = "bench/agent/\(index)"
        self.controllerTopic = controllerTopic
        self.controllerID = controllerID
        _ = try await client.connect()
        try await client.subscribe(topic, qos: 1)
    }

    func publish(_ kind: USPRecord.Kind) async throws {
        let record = USPRecord(toID: controllerID, fromID: endpointID, kind: kind)
        try await client.publish(
            try record.serializedBytes(), to: controllerTopic, qos: 1, properties: MQTTPublishProperties(contentType: "usp.msg", responseTopic: topic))
    }

    func notify(_ id: String, _ notification: USPNotify.Notification) async throws {
        let message = USPMessage(id: id, request: .notify(USPNotify(subscriptionID: "bench", sendResponse: true, notification: notification)))
        try await publish(.noSessionContext(payload: try message.serializedBytes()))
    }

    static func isNotifyResponse(_ bytes: [UInt8]) -> Bool {
        guard let record = try? USPRecord(serializedBytes: bytes), let message = try? record.message(),
            case .response(.notifyResponse) = message.body
        else { return false }
        return true
    }

    /// MQTTConnect record (the controller learns the agent's topic), then OnBoardRequest, whose
    /// NotifyResp says the controller knows the agent.
    func onboard() async throws {
        try await publish(.mqttConnect(version: .v5, subscribedTopic: topic))
        try await notify("onboard", .onBoardRequest(USPNotify.OnBoardRequest(
            oui: "ACDE48", productClass: "BenchAgent", serialNumber: String(endpointID.dropFirst(11)), agentSupportedVersions: USPRecord.supportedProtocolVersions)))
        for await message in client.messages where Self.isNotifyResponse(message.payload) { return }
        throw BenchError("\(endpointID): no NotifyResp to OnBoardRequest")
    }

    /// Keeps `window` notifications outstanding until `deadline`; returns the answers received
    /// before it (later ones are drained, not counted).
    func run(window: Int, until deadline: ContinuousClock.Instant) async throws -> Int {
        var sent = 0
        var answered = 0
        var counted = 0
        func next() async throws {
            sent += 1
            try await notify("vc-\(sent)", .valueChange(USPNotify.ValueChange(parameterPath: "Device.WiFi.SSID.1.Stats.BytesSent", value: String(sent))))
        }
        for _ in 0..<window { try await next() }
        let client = self.client
        return try await withThrowingTaskGroup(of: Void.self) { group in
            // A lost answer must not hang the run: disconnecting ends the message stream.
            group.addTask {
                try? await Task.sleep(until: deadline + .seconds(15))
                client.disconnect()
            }
            for await message in client.messages where Self.isNotifyResponse(message.payload) {
                answered += 1
                if ContinuousClock.now < deadline {
                    counted += 1
                    try await next()
                } else if answered == sent {
                    break
                }
            }
            group.cancelAll()
            return counted
        }
    }
}

extension BenchRun {
    /// `usp-mqtt`: agents publish ValueChange Notify with send_resp through mosquitto; Tandem stores
    /// each value and answers. Floor: the same agents against an echo client that answers every
    /// record through the same broker, without decoding or storing.
    func uspMQTT() async throws -> [Measurement] {
        let name = "usp-mqtt"
        guard let broker = mqtt else { throw BenchError("usp-mqtt needs --mqtt host:port (a mosquitto broker)") }
        let agents = quick ? 16 : 64
        let window = quick ? 16 : 32
        let duration: Duration = quick ? .seconds(5) : .seconds(20)
        let controllerID = "self::tandem-controller"

        // Floor first, on its own topic.
        let floorTopic = "bench/floor/\(UUID().uuidString.prefix(8))"
        let floorRate = try await withEchoResponder(broker: broker, topic: floorTopic) {
            try await notifierRate(broker: broker, agents: agents, window: window, duration: duration, topic: floorTopic, controllerID: controllerID, onboard: false)
        }
        progress("\(name): floor \(Int(floorRate)) round trips/s")

        let topic = "usp/controller/bench-\(UUID().uuidString.prefix(8))"
        return try await withServer(name, options: .init(mqttBroker: broker, mqttTopic: topic)) { server in
            try await Task.sleep(for: .seconds(1))  // the controller subscribes once it runs
            let cpuBefore = server.cpuSeconds()
            let rate = try await notifierRate(broker: broker, agents: agents, window: window, duration: duration, topic: topic, controllerID: controllerID, onboard: true)
            let cpu = server.cpuSeconds() - cpuBefore
            return [
                Measurement(name, "notifications/s (persisted, answered)", rate, "1/s", floor: floorRate),
                Measurement(name, "server CPU per 1000 notifications", rate > 0 ? cpu / (rate * duration.seconds) * 1000 : 0, "s"),
                Measurement(name, "server peak RSS", server.peakRSSKiB / 1024, "MiB"),
                Measurement(name, "agents x outstanding", Double(agents * window), "messages"),
            ]
        }
    }

    private func notifierRate(
        broker: String, agents: Int, window: Int, duration: Duration, topic: String, controllerID: String, onboard: Bool
    ) async throws -> Double {
        var notifiers: [MQTTNotifier] = []
        for index in 0..<agents {
            notifiers.append(try await MQTTNotifier(broker: broker, index: index, controllerTopic: topic, controllerID: controllerID))
        }
        defer { for notifier in notifiers { notifier.client.disconnect() } }
        if onboard {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for notifier in notifiers { group.addTask { try await notifier.onboard() } }
                try await group.waitForAll()
            }
        }
        let deadline = ContinuousClock.now + duration
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for notifier in notifiers { group.addTask { try await notifier.run(window: window, until: deadline) } }
            return try await group.reduce(0, +)
        }
        return Double(total) / duration.seconds
    }

    /// Runs `body` while a client answers every record on `topic` with a NotifyResp, at once.
    private func withEchoResponder<T: Sendable>(broker: String, topic: String, _ body: () async throws -> T) async throws -> T {
        let parts = broker.split(separator: ":")
        var configuration = MosquittoClient.Configuration(host: String(parts[0]), port: Int(parts[1]) ?? 1883, clientID: "bench-floor-echo-\(UUID().uuidString.prefix(6))")
        configuration.protocolVersion = .v5
        configuration.messageBufferLimit = 100_000
        let echo = try MosquittoClient(configuration: configuration)
        _ = try await echo.connect()
        try await echo.subscribe(topic, qos: 1)
        let answer = try USPRecord(
            toID: "os::ACDE48-MQTT000000", fromID: "self::tandem-controller",
            kind: .noSessionContext(payload: USPMessage(id: "vc-1", response: .notifyResponse(USPNotifyResponse(subscriptionID: "bench"))).serializedBytes())
        ).serializedBytes()
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                await withDiscardingTaskGroup { replies in
                    for await message in echo.messages {
                        guard let reply = message.responseTopic else { continue }
                        replies.addTask { try? await echo.publish(answer, to: reply, qos: 1) }
                    }
                }
                return nil
            }
            let result = try await body()
            echo.disconnect()
            group.cancelAll()
            return result
        }
    }

    func withServer<T>(_ name: String, options: ServerProcess.Options = .init(), _ body: (ServerProcess) async throws -> T) async throws -> T {
        let server = try await startServer(name, options: options)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    /// `usp-ws-idle`: N simulated agents hold WebSocket connections; RSS per connected agent, then a
    /// Get to every one of them through the REST API.
    func uspWebSocketIdle() async throws -> [Measurement] {
        let name = "usp-ws-idle"
        let count = wsAgents
        // --quick trims every 2 s to stay within its two minutes; the full run keeps the default.
        var options = ServerProcess.Options()
        if quick { options.memoryTrimSeconds = 2 }
        let settle = Duration.seconds(options.memoryTrimSeconds + 1)
        return try await withServer(name, options: options) { server in
            try await withAPI(server) { api in
                // After the server's first heap trim, like the idle reading below.
                try await Task.sleep(for: settle)
                let baseline = server.rssKiB
                let agents = (0..<count).map { index in
                    SimulatedAgent(
                        identity: .init(oui: "ACDE48", productClass: "BenchAgent", serialNumber: String(format: "WS%08d", index)),
                        controllerEndpointID: "self::tandem-controller", mtp: .webSocket(url: server.webSocketURL),
                        logger: Logger(label: "bench.agent"))
                }
                return try await withThrowingTaskGroup(of: Void.self) { group in
                    let connectStart = ContinuousClock.now
                    for (index, agent) in agents.enumerated() {
                        group.addTask { try? await agent.run() }
                        // Agents come up in waves, not as one SYN flood.
                        if index % 500 == 499 { try await Task.sleep(for: .milliseconds(100)) }
                    }
                    let timeout = ContinuousClock.now + .seconds(quick ? 60 : 600)
                    var registered = 0
                    while registered < count {
                        guard ContinuousClock.now < timeout else { throw BenchError("only \(registered) of \(count) agents registered") }
                        try await Task.sleep(for: .milliseconds(500))
                        registered = try await api.deviceCount()
                    }
                    let connectSeconds = (ContinuousClock.now - connectStart).seconds
                    try await Task.sleep(for: .seconds(3))  // onboarding settles
                    let burstRSS = server.rssKiB
                    // Idle: the server's heap trim (memoryTrimSeconds) has run since.
                    try await Task.sleep(for: settle)
                    let rss = server.rssKiB
                    progress(
                        "\(name): \(count) agents connected in \(Int(connectSeconds)) s; server RSS \(Int(baseline / 1024)) → "
                            + "\(Int(burstRSS / 1024)) MiB after the burst, \(Int(rss / 1024)) MiB idle")

                    let getStart = ContinuousClock.now
                    let done = try await forEachConcurrently(agents.map(\.identity.endpointID.rawValue), width: 128) { endpoint in
                        (try? await api.get(device: endpoint, paths: ["Device.DeviceInfo.SoftwareVersion"], wait: 120)) == "done"
                    }
                    let getSeconds = (ContinuousClock.now - getStart).seconds
                    group.cancelAll()
                    return [
                        Measurement(name, "connected agents", Double(count), "agents"),
                        Measurement(name, "server RSS per idle agent", (rss - baseline) / Double(count), "KiB"),
                        Measurement(name, "server RSS per agent right after connecting", (burstRSS - baseline) / Double(count), "KiB"),
                        Measurement(name, "time to connect all", connectSeconds, "s"),
                        Measurement(name, "time for a Get to all", getSeconds, "s"),
                        Measurement(name, "Gets answered", Double(done), "agents"),
                        Measurement(name, "server peak RSS", server.peakRSSKiB / 1024, "MiB"),
                    ]
                }
            }
        }
    }

    /// `op-latency`: `get` through the REST API for an online USP agent (WebSocket) and for a CWMP
    /// CPE woken by a connection request.
    func opLatency() async throws -> [Measurement] {
        let name = "op-latency"
        let iterations = quick ? 20 : 200
        return try await withServer(name) { server in
            try await withAPI(server) { api in
                let agent = SimulatedAgent(
                    identity: .init(oui: "ACDE48", productClass: "BenchAgent", serialNumber: "OPL000001"),
                    controllerEndpointID: "self::tandem-controller", mtp: .webSocket(url: server.webSocketURL), logger: Logger(label: "bench.agent"))
                let fleet = try SimulatedFleet(configuration: .init(
                    count: 1, serialPrefix: "OPLCWMP", productClass: "BenchGateway", acsURL: server.acsURL,
                    usernameTemplate: "", periodicInformEnable: false, concurrency: 1), logger: Logger(label: "bench.cpe"))
                return try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try? await agent.run() }
                    group.addTask { try? await fleet.run() }
                    let timeout = ContinuousClock.now + .seconds(60)
                    while try await api.deviceCount() < 2 {
                        guard ContinuousClock.now < timeout else { throw BenchError("the simulated agent and CPE did not register") }
                        try await Task.sleep(for: .milliseconds(200))
                    }
                    let listing = try await api.call(.GET, "/api/v1/devices?protocol=cwmp&limit=1")
                    guard let cpe = (listing["devices"] as? [[String: Any]])?.first, let cpeID = cpe["id"] as? Int else {
                        throw BenchError("the simulated CPE is not listed")
                    }
                    let serial = fleet.devices[0].serialNumber
                    _ = try await api.call(.PUT, "/api/v1/devices/\(cpeID)/credentials", body: [
                        "purpose": "connectionRequest", "username": serial, "password": "cr-\(serial)",
                    ])
                    var usp = Samples()
                    var cwmp = Samples()
                    for _ in 0..<iterations {
                        usp.add(try await timedGet(api, agent.identity.endpointID.rawValue) * 1000)
                    }
                    for _ in 0..<iterations {
                        cwmp.add(try await timedGet(api, String(cpeID)) * 1000)
                    }
                    group.cancelAll()
                    return [
                        Measurement(name, "USP get p50", usp.percentile(50), "ms"),
                        Measurement(name, "USP get p99", usp.percentile(99), "ms"),
                        Measurement(name, "CWMP get p50 (with CR)", cwmp.percentile(50), "ms"),
                        Measurement(name, "CWMP get p99 (with CR)", cwmp.percentile(99), "ms"),
                        Measurement(name, "gets per protocol", Double(iterations), "requests"),
                    ]
                }
            }
        }
    }

    private func timedGet(_ api: APICalls, _ device: String) async throws -> Double {
        var state = ""
        let seconds = try await timed { state = try await api.get(device: device, paths: ["Device.DeviceInfo.SoftwareVersion"], wait: 30) }
        guard state == "done" else { throw BenchError("get on \(device) ended \(state)") }
        return seconds
    }
}

/// Runs `body` over `items`, at most `width` at once; how many returned true.
func forEachConcurrently<T: Sendable>(_ items: [T], width: Int, _ body: @escaping @Sendable (T) async -> Bool) async throws -> Int {
    try await withThrowingTaskGroup(of: Bool.self) { group in
        var iterator = items.makeIterator()
        var succeeded = 0
        for _ in 0..<width {
            guard let item = iterator.next() else { break }
            group.addTask { await body(item) }
        }
        while let result = try await group.next() {
            if result { succeeded += 1 }
            if let item = iterator.next() { group.addTask { await body(item) } }
        }
        return succeeded
    }
}
