import CWMP
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
import USPAgentSimulator

/// Provisioning policies against a mixed fleet on loopback: TR-181 and TR-098 CWMP devices and a
/// USP agent converge to the same desired state, and a converged device costs no round trip.
@Suite struct ProvisioningLiveTests {
    static let policy = """
        policies:
          - name: basics
            order: 1
            ensure:
              parameters:
                Device.ManagementServer.PeriodicInformInterval: 900
                Device.Time.NTPServer1: ntp.tandem.test
          - name: guest-wifi
            order: 2
            select: {tags: [wifi]}
            ensure:
              objects:
                - table: Device.WiFi.SSID.
                  key: {SSID: tandem-guest}
                  values: {Enable: true}
        """

    @Test func mixedFleetConvergesToTheSameDesiredState() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        var configuration = TandemConfiguration()
        configuration.dataDirectory = directory
        configuration.cwmp.listen = ListenAddress(host: "127.0.0.1", port: 0)
        configuration.cwmp.authMode = .digest
        configuration.cwmp.passwordTemplate = "pw-{serialNumber}"
        configuration.usp.endpointID = "self::tandem-test"
        configuration.usp.webSocketListen = ListenAddress(host: "127.0.0.1", port: 0)
        let server = try TandemServer(configuration: configuration, logger: Logger(label: "provisioning-live"))

        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.makeCWMPApplication { continuation.yield($0.localAddress?.port ?? 0) }.runService() }
            for service in server.uspServices { group.addTask { try await service.run() } }
            defer { group.cancelAll() }
            var iterator = ports.makeAsyncIterator()
            let cwmpPort = try #require(await iterator.next())
            let wsPort = try await server.webSocketTransport!.listeningPort()

            let options = SimulatedFleet.DeviceOptions(
                retryMinimumWait: .milliseconds(100), retryMaximumWait: .seconds(2), rebootDuration: .milliseconds(100), httpTimeout: .seconds(10))
            func fleet(_ prefix: String, _ variant: DataModelVariant, count: Int) throws -> SimulatedFleet {
                try SimulatedFleet(configuration: SimulatedFleet.Configuration(
                    count: count, serialPrefix: prefix, variant: variant, acsURL: "http://127.0.0.1:\(cwmpPort)/cwmp", passwordTemplate: "pw-{serial}",
                    periodicInformEnable: false, device: options))
            }
            let tr181 = try fleet("PT", .tr181, count: 2)
            let tr098 = try fleet("PO", .tr098, count: 1)
            group.addTask { try await tr181.run() }
            group.addTask { try await tr098.run() }
            let agent = SimulatedAgent(
                identity: .init(oui: "00D09E", serialNumber: "PU0001"), controllerEndpointID: "self::tandem-test",
                mtp: .webSocket(url: "ws://127.0.0.1:\(wsPort)/usp"))
            group.addTask { try await agent.run() }

            #expect(try await USPControllerLiveTests.eventually(.seconds(60)) { try await server.registry.countDevices(matching: DeviceFilter()) == 4 })
            let devices = try await server.registry.devices(matching: DeviceFilter(), page: Page())
            for device in devices where device.cwmpDeviceID != nil {
                try await server.registry.setCredentials(
                    deviceID: device.id, purpose: .connectionRequest, username: device.serialNumber, password: "cr-\(device.serialNumber)", actor: "test")
            }
            let wifiCPE = try #require(devices.first { $0.serialNumber == tr181.configuration.serialNumber(at: 0) })
            let usp = try #require(devices.first { $0.uspEndpointID != nil })
            #expect(try await USPControllerLiveTests.eventually { await server.uspController.isOnline(deviceID: usp.id) })
            for device in [wifiCPE, usp] { _ = try await server.registry.updateTags(deviceID: device.id, adding: ["wifi"], removing: [], actor: "test") }

            let report = try await server.provisioning.apply(text: Self.policy, fileName: "fleet.yaml", actor: "test")
            #expect(report.policies == 2)
            // Devices in contact at that moment may have queued their work themselves (connect trigger).
            #expect((1...4).contains(report.devicesQueued))

            // Every device converges, whatever its protocol or data model.
            let cpes = [tr181.configuration.serialNumber(at: 0), tr181.configuration.serialNumber(at: 1)].compactMap { tr181.device(serialNumber: $0) }
            let igd = try #require(tr098.device(serialNumber: tr098.configuration.serialNumber(at: 0)))
            #expect(cpes.count == 2)
            for cpe in cpes {
                #expect(try await USPControllerLiveTests.eventually(.seconds(60)) {
                    let interval = await cpe.value("Device.ManagementServer.PeriodicInformInterval")
                    let ntp = await cpe.value("Device.Time.NTPServer1")
                    return interval == .unsignedInt(900) && ntp == .string("ntp.tandem.test")
                })
            }
            #expect(try await USPControllerLiveTests.eventually(.seconds(60)) {
                let interval = await igd.value("InternetGatewayDevice.ManagementServer.PeriodicInformInterval")
                let ntp = await igd.value("InternetGatewayDevice.Time.NTPServer1")
                return interval == .unsignedInt(900) && ntp == .string("ntp.tandem.test")
            })
            #expect(try await USPControllerLiveTests.eventually(.seconds(60)) {
                let interval = await agent.value("Device.ManagementServer.PeriodicInformInterval")
                let ntp = await agent.value("Device.Time.NTPServer1")
                return interval == "900" && ntp == "ntp.tandem.test"
            })
            // The guest SSID exists once on the tagged devices only.
            @Sendable func guestSSIDs(_ cpe: SimulatedCPE) async -> [String] {
                await cpe.dataModel().parameters(under: "Device.WiFi.SSID.")
                    .filter { $0.path.hasSuffix(".SSID") && $0.parameter.value == .string("tandem-guest") }.map(\.path)
            }
            #expect(try await USPControllerLiveTests.eventually(.seconds(60)) { await guestSSIDs(cpes[0]).count == 1 })
            let guestPath = try #require(await guestSSIDs(cpes[0]).first)
            #expect(await cpes[0].value(String(guestPath.dropLast("SSID".count)) + "Enable") == .boolean(true))
            #expect(await guestSSIDs(cpes[1]).isEmpty)
            #expect(try await USPControllerLiveTests.eventually(.seconds(60)) {
                let instances = await agent.instances(of: "Device.WiFi.SSID.")
                var guests = 0
                for instance in instances where await agent.value(instance + "SSID") == "tandem-guest" {
                    if await agent.value(instance + "Enable") == "true" { guests += 1 }
                }
                return guests == 1
            })

            // The registry reports every policy converged on every device it selects.
            let converged = try await USPControllerLiveTests.eventually(.seconds(60)) {
                let counts = try await server.registry.policyStatusCounts()
                return counts["basics"] == [.converged: 4] && counts["guest-wifi"] == [.converged: 2]
            }
            let counts = try await server.registry.policyStatusCounts()
            #expect(converged, "\(counts)")

            // A converged device's next contact costs no request: Inform, empty POST, 204.
            // The session that converged it may still be closing (its last response is in, its empty
            // POST not yet): count sessions only once the device is idle with nothing queued.
            _ = try await cpes[0].waitUntil(timeout: .seconds(20)) { $0.phase == .idle && $0.pendingEvents.isEmpty }
            let before = try await server.registry.tasks(deviceID: wifiCPE.id, states: []).count
            let sessions = await cpes[0].sessionHistory().last?.number ?? 0
            await cpes[0].requestSession(events: [CWMPEvent(code: .periodic)])
            let record = try await cpes[0].waitForSession(number: sessions + 1, timeout: .seconds(20))
            #expect(record.has(.periodic), "session \(record.number) carried \(record.events)")
            #expect(record.isCompleted)
            #expect(record.acsMethods.isEmpty, "a converged device got \(record.acsMethods)")
            #expect(try await server.registry.tasks(deviceID: wifiCPE.id, states: []).count == before)

            // The device drifts (a local change): the next periodic contact puts it back.
            #expect(await cpes[0].setLocalValue("Device.Time.NTPServer1", .string("drifted.example")))
            try await server.registry.storeParameters(
                deviceID: wifiCPE.id, [StoredParameter(path: "Device.Time.NTPServer1", value: .string("drifted.example"), updatedAt: Date())],
                replacingSubtree: nil)
            await cpes[0].requestSession(events: [CWMPEvent(code: .periodic)])
            let repair = try await cpes[0].waitForSession(number: sessions + 2, timeout: .seconds(20))
            #expect(repair.acsMethods == ["SetParameterValues"])
            #expect(await cpes[0].value("Device.Time.NTPServer1") == .string("ntp.tandem.test"))
        }
    }

    /// A policy whose write the device refuses is recorded as faulted with a retry time, and the
    /// next contact within the backoff does not try again.
    @Test func faultsAreRecordedPerPolicyWithBackoff() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        var configuration = TandemConfiguration()
        configuration.dataDirectory = directory
        configuration.cwmp.listen = ListenAddress(host: "127.0.0.1", port: 0)
        configuration.cwmp.authMode = .open
        configuration.usp.webSocketListen = nil
        let server = try TandemServer(configuration: configuration, logger: Logger(label: "provisioning-faults"))
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.makeCWMPApplication { continuation.yield($0.localAddress?.port ?? 0) }.runService() }
            defer { group.cancelAll() }
            var iterator = ports.makeAsyncIterator()
            let cwmpPort = try #require(await iterator.next())
            _ = try await server.provisioning.apply(text: """
                policies:
                  - name: impossible
                    ensure:
                      parameters:
                        Device.DeviceInfo.SerialNumber: not-writable
                """, fileName: "bad.yaml", actor: "test")
            let fleet = try SimulatedFleet(configuration: SimulatedFleet.Configuration(
                count: 1, serialPrefix: "PF", acsURL: "http://127.0.0.1:\(cwmpPort)/cwmp", periodicInformEnable: false,
                device: .init(retryMinimumWait: .milliseconds(100), retryMaximumWait: .seconds(2), httpTimeout: .seconds(10))))
            let cpe = try #require(fleet.device(serialNumber: fleet.configuration.serialNumber(at: 0)))
            group.addTask { try await fleet.run() }
            // Boot session: the policy's set is refused (9008), the task faults.
            let boot = try await cpe.waitForSession(number: 1, timeout: .seconds(20))
            #expect(boot.acsMethods == ["SetParameterValues"])
            let device = try #require(try await server.registry.device(.cwmp(cpe.deviceID)))
            #expect(try await server.registry.tasks(deviceID: device.id, states: [.faulted]).count == 1)
            // Next contact: the fault is recorded with a retry time, and nothing is sent.
            await cpe.requestSession(events: [CWMPEvent(code: .periodic)])
            let next = try await cpe.waitForSession(number: 2, timeout: .seconds(20))
            #expect(next.acsMethods.isEmpty)
            let status = try #require(try await server.registry.policyStatuses(deviceID: device.id).first)
            #expect(status.state == .faulted)
            #expect(status.attempts == 1)
            #expect(status.lastFault?.contains("9008") == true, "\(status.lastFault ?? "")")
            let retry = try #require(status.nextAttemptAt)
            #expect(retry.timeIntervalSinceNow > 30)
        }
    }
}
