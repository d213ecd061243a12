import Engine
import Foundation
import Hummingbird
import Logging
import MTPWebSocket
import Policy
import Registry
import ServiceLifecycle
import Simulator
import TandemCore
import TandemServer
import Testing

/// Fleets of simulated dual-stack devices migrate from CWMP to USP in waves, over WebSocket and over
/// MQTT (a real mosquitto): the registry ends with one row per device in the right state, the
/// devices whose agent never comes up are rolled back, and nothing about a device is lost.
@Suite(.serialized) struct MigrationLiveTests {
    struct Scenario {
        var devices: Int
        var broken: Int
        var mqtt: (host: String, port: Int)?
        var waves = "[{name: canary, percent: 10}, {name: half, percent: 50}, {name: rest, percent: 100}]"
        var pauseAbove = 0.5
        var minimumSample = 3
        /// The USP check's deadline; MQTT carries every agent's onboarding through one broker
        /// connection and needs longer on a loaded machine.
        var verifyWithin = 6
    }

    struct Outcome {
        var server: TandemServer
        var fleet: SimulatedFleet
        var records: [MigrationDeviceRecord]
    }

    /// Runs a migration over a fleet until every started device is final (or `until` holds), then
    /// hands the server and fleet to `check` while they still run.
    func migrate(
        _ scenario: Scenario, label: String, until: (@Sendable (TandemServer) async throws -> Bool)? = nil,
        check: (Outcome) async throws -> Void
    ) async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        var configuration = TandemConfiguration()
        configuration.dataDirectory = directory
        configuration.cwmp.listen = ListenAddress(host: "127.0.0.1", port: 0)
        configuration.cwmp.authMode = .digest
        configuration.cwmp.passwordTemplate = "pw-{serialNumber}"
        // No stored Connection Request credentials: the templates give them.
        configuration.cwmp.connectionRequestUsernameTemplate = "{serialNumber}"
        configuration.cwmp.connectionRequestPasswordTemplate = "cr-{serialNumber}"
        configuration.cwmp.maxConcurrentSessions = 10_000
        configuration.usp.endpointID = "self::tandem-\(label)"
        configuration.provisioning.migrationTickSeconds = 0.2
        if let broker = scenario.mqtt {
            configuration.usp.webSocketListen = nil
            configuration.usp.mqttBroker = try BrokerURL(parsing: "mqtt://\(broker.host):\(broker.port)", schemes: ["mqtt": 1883])
            configuration.usp.mqttTopic = "usp/controller/\(suffix)"
        } else {
            configuration.usp.webSocketListen = ListenAddress(host: "127.0.0.1", port: 0)
        }
        let server = try TandemServer(configuration: configuration, logger: Logger(label: "migration-\(label)"))

        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.makeCWMPApplication { continuation.yield($0.localAddress?.port ?? 0) }.runService() }
            for service in server.uspServices { group.addTask { try await service.run() } }
            group.addTask { await server.provisioning.migrations.run() }
            defer { group.cancelAll() }
            var iterator = ports.makeAsyncIterator()
            let cwmpPort = try #require(await iterator.next())

            let target: String
            if let broker = scenario.mqtt {
                target = "{mtp: mqtt, host: \(broker.host), port: \(broker.port), protocolVersion: \"5.0\", agentTopic: \"usp/agent/\(suffix)/{{serialNumber}}\", controllerTopic: usp/controller/\(suffix)}"
            } else {
                let wsPort = try await server.webSocketTransport!.listeningPort()
                target = "{mtp: websocket, host: 127.0.0.1, port: \(wsPort), path: /usp}"
            }

            let fleet = try SimulatedFleet(configuration: SimulatedFleet.Configuration(
                count: scenario.devices, serialPrefix: "MG", oui: "00D09E", productClass: "DualStackGW", acsURL: "http://127.0.0.1:\(cwmpPort)/cwmp",
                passwordTemplate: "pw-{serial}", periodicInformEnable: false, concurrency: 64,
                device: .init(
                    retryMinimumWait: .milliseconds(200), retryMaximumWait: .seconds(2), rebootDuration: .milliseconds(100), httpTimeout: .seconds(20),
                    dualStack: DualStackOptions(reconnectDelay: .milliseconds(300))),
                uspNeverConnecting: scenario.broken))
            group.addTask { try await fleet.run() }
            #expect(try await USPControllerLiveTests.eventually(.seconds(120)) {
                try await server.registry.countDevices(matching: DeviceFilter()) == scenario.devices
            })
            // Something that must survive the switch: a tag and the Inform's parameters.
            let tagged = try #require(try await server.registry.device(.cwmp(try CWMPDeviceID(
                oui: "00D09E", productClass: "DualStackGW", serialNumber: fleet.configuration.serialNumber(at: 0)))))
            _ = try await server.registry.updateTags(deviceID: tagged.id, adding: ["keep-me"], removing: [], actor: "test")

            _ = try await server.provisioning.apply(text: """
                migrations:
                  - name: fleet
                    select: {protocol: cwmp, productClass: DualStackGW}
                    target: \(target)
                    controllerEndpointID: self::tandem-\(label)
                    waves: \(scenario.waves)
                    verifyWithin: \(scenario.verifyWithin)s
                    disableCWMP: true
                    pauseAboveFailureRatio: \(scenario.pauseAbove)
                    minimumSample: \(scenario.minimumSample)
                """, fileName: "\(label).yaml", actor: "test")

            let done = try await USPControllerLiveTests.eventually(.seconds(240)) {
                if let until { return try await until(server) }
                let records = try await server.registry.migrationDevices(migration: "fleet", states: [])
                return records.count == scenario.devices && records.allSatisfy(\.state.isFinal)
            }
            let records = try await server.registry.migrationDevices(migration: "fleet", states: [])
            let summary = Dictionary(grouping: records, by: \.state).mapValues(\.count)
            #expect(done, "migration did not finish: \(summary)")
            try await check(Outcome(server: server, fleet: fleet, records: records))
        }
    }

    /// What every finished migration must show.
    func checkFinished(_ outcome: Outcome, devices: Int, broken: Int, verifyWithin: Int = 6) async throws {
        let (server, fleet, records) = (outcome.server, outcome.fleet, outcome.records)
        // One registry row per device: every agent joined its CWMP row.
        #expect(try await server.registry.countDevices(matching: DeviceFilter()) == devices)
        #expect(records.filter { $0.state == .usp }.count == devices - broken)
        #expect(records.filter { $0.state == .rolledBack }.count == broken)
        #expect(records.filter { $0.state == .failed }.isEmpty)

        for record in records {
            let device = try #require(try await server.registry.device(.registryID(record.deviceID)))
            let cpe = try #require(fleet.device(serialNumber: device.serialNumber))
            let agent = await cpe.uspAgentStatus()
            switch record.state {
            case .usp:
                #expect(device.activeProtocol == .usp)
                #expect(device.uspEndpointID == "os::00D09E-\(device.serialNumber)")
                #expect(device.cwmpDeviceID == "00D09E-DualStackGW-\(device.serialNumber)")
                #expect(agent.state == .connected)
                // CWMP switched off over USP.
                #expect(await cpe.value("Device.ManagementServer.EnableCWMP") == .boolean(false))
                let history = try await server.registry.events(deviceID: device.id, limit: 200).filter { $0.kind == "migration" }.map(\.summary)
                #expect(history.contains { $0.contains("enabling the USP agent") })
                #expect(history.contains { $0.contains("verified: the agent answered over USP; CWMP switched off") })
            case .rolledBack:
                #expect(device.activeProtocol == .cwmp)
                #expect(record.reason?.contains("did not connect and answer within \(verifyWithin) s") == true, "\(record.reason ?? "")")
                // What the migration wrote is gone again.
                #expect(await cpe.dataModel().instances(of: "Device.USPAgent.Controller.")?.isEmpty == true)
                #expect(await cpe.dataModel().instances(of: "Device.USPAgent.MTP.")?.isEmpty != false)
                #expect(await cpe.value("Device.ManagementServer.EnableCWMP") == .boolean(true))
            default:
                Issue.record("device \(device.serialNumber) ended \(record.state)")
            }
        }

        // Waves in order: a wave starts once every device of the one before has finished.
        let byWave = Dictionary(grouping: records, by: \.wave)
        for wave in byWave.keys.sorted().dropFirst() {
            guard let previous = byWave[wave - 1], let current = byWave[wave] else { continue }
            let previousEnd = previous.map(\.updatedAt).max()!
            let currentStart = current.map(\.startedAt).min()!
            #expect(currentStart >= previousEnd.addingTimeInterval(-0.001), "wave \(wave) started before wave \(wave - 1) finished")
        }

        // Nothing lost: the tag and the parameters learned over CWMP are on the same row.
        let first = try #require(try await server.registry.device(.cwmp(try CWMPDeviceID(
            oui: "00D09E", productClass: "DualStackGW", serialNumber: fleet.configuration.serialNumber(at: 0)))))
        #expect(first.tags.contains("keep-me"))
        #expect(try await server.registry.parameters(deviceID: first.id, under: "Device.DeviceInfo.SerialNumber").first?.value
            == .string(first.serialNumber))
    }

    @Test func aFleetMigratesInWavesOverWebSocketAndBrokenOnesRollBack() async throws {
        let scenario = Scenario(devices: Int(ProcessInfo.processInfo.environment["MIG_N"] ?? "200")!, broken: Int(ProcessInfo.processInfo.environment["MIG_B"] ?? "10")!)
        try await migrate(scenario, label: "ws") { outcome in
            try await checkFinished(outcome, devices: scenario.devices, broken: scenario.broken)
            let report = try #require(try await outcome.server.provisioning.migrations.report().first)
            #expect(report.state == "running")
            #expect(report.waves.map(\.devices).reduce(0, +) == scenario.devices)
            #expect(report.waves.map { $0.states["usp", default: 0] }.reduce(0, +) == scenario.devices - scenario.broken)
        }
    }

    @Test func aFleetMigratesInWavesOverMQTT() async throws {
        guard let broker = USPBrokeredLiveTests.broker("TANDEM_TEST_MQTT") else { return }
        var scenario = Scenario(devices: 200, broken: 10, mqtt: broker)
        scenario.verifyWithin = 30
        try await migrate(scenario, label: "mqtt") { outcome in
            try await checkFinished(outcome, devices: scenario.devices, broken: scenario.broken, verifyWithin: scenario.verifyWithin)
        }
    }

    /// A canary with too many failures pauses the migration: the next wave never starts.
    @Test func aFailingCanaryPausesTheMigration() async throws {
        var scenario = Scenario(devices: 12, broken: 6)
        scenario.waves = "[{name: canary, percent: 50}, {name: rest, percent: 100}]"
        scenario.pauseAbove = 0.2
        scenario.minimumSample = 3
        try await migrate(scenario, label: "pause", until: { server in
            let paused = try await server.registry.migrationStatus(name: "fleet")?.state == .paused
            let inFlight = try await server.registry.migrationDevices(migration: "fleet", states: [.enabling, .verifying, .rollingBack])
            return paused && inFlight.isEmpty
        }) { outcome in
            let status = try #require(try await outcome.server.registry.migrationStatus(name: "fleet"))
            #expect(status.state == .paused)
            #expect(status.reason?.hasPrefix("wave canary:") == true, "\(status.reason ?? "")")
            // No device of the second wave started.
            #expect(!outcome.records.contains { $0.wave == 1 })
            let report = try #require(try await outcome.server.provisioning.migrations.report().first)
            #expect(report.state == "paused")
            #expect((report.waves.last?.states["cwmp"] ?? 0) > 0)
        }
    }
}
