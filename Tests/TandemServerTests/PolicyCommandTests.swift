import Foundation
import HTTPAuthentication
import Hummingbird
import Logging
import Registry
import ServiceLifecycle
import TandemCore
import TandemServer
import Testing

/// `tandem policy` and `tandem migration` as an operator runs them.
@Suite struct PolicyCommandTests {
    @Test func validateAcceptsTheExampleAndPositionsEveryError() throws {
        let example = repositoryRoot.appendingPathComponent("Fixtures/policies/example-fleet.yaml").path
        let good = try runTandem(["policy", "validate", example])
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stdout.contains("valid; 3 policy(ies), 1 migration(s)"))
        #expect(good.stdout.contains("migration gateways-to-usp over MQTT: canary 5%, half 50%, rest 100%"))

        let directory = temporaryDirectory()
        defer { remove(directory) }
        let file = directory + "/bad.yaml"
        try """
            policies:
              - name: p
                ensure:
                  parameters:
                    Device.ManagementServer.PeriodicInformInterval: 60
                    Device.WiFi.SSID.[Enable==true].SSID: x
                selct: {oui: 00D09E}
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let bad = try runTandem(["policy", "validate", file])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("\(file):6:9: \"Device.WiFi.SSID.[Enable==true].SSID\" is not a concrete TR-181 parameter path"))
        #expect(bad.stderr.contains("\(file):7:5: unknown key \"selct\" in a policy (did you mean \"select\"?)"))

        let missing = try runTandem(["policy", "validate", directory + "/none.yaml"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("cannot read \(directory)/none.yaml"))
    }

    @Test func planApplyAndMigrationControlOverTheAPI() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        var configuration = TandemConfiguration()
        configuration.dataDirectory = directory
        configuration.api.listen = ListenAddress(host: "127.0.0.1", port: 0)
        configuration.usp.webSocketListen = nil
        let server = try TandemServer(configuration: configuration, logger: Logger(label: "policy-cli"))
        func token(_ role: APIRole) async throws -> String {
            let secret = BearerToken.makeSecret()
            let stored = try await server.registry.createToken(name: "cli-\(role.rawValue)", role: role, secretHash: BearerToken.hash(secret), actor: "test")
            return BearerToken(id: stored.id, secret: secret).text
        }
        let admin = try await token(.admin), readOnly = try await token(.readOnly)
        // Three CWMP devices, one of them already at the desired interval.
        for serial in ["C1", "C2", "C3"] {
            let device = try await server.registry.recordCWMPContact(
                try CWMPDeviceID(oui: "00D09E", productClass: "IGD", serialNumber: serial), details: DeviceDetails(), at: Date())
            if serial == "C1" {
                try await server.registry.storeParameters(
                    deviceID: device.id, [StoredParameter(path: "Device.ManagementServer.PeriodicInformInterval", value: .unsignedInt(900), updatedAt: Date())],
                    replacingSubtree: nil)
            }
        }
        let file = directory + "/fleet.yaml"
        try """
            policies:
              - name: interval
                triggers: [periodic]
                ensure: {parameters: {Device.ManagementServer.PeriodicInformInterval: 900}}
            migrations:
              - name: to-usp
                target: {mtp: websocket, host: 127.0.0.1, port: 9, path: /usp}
                controllerEndpointID: self::tandem
                waves: [{name: all, percent: 100}]
                maintenanceWindows: ["00:00-00:01"]
            """.write(toFile: file, atomically: true, encoding: .utf8)

        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.makeAPIApplication { continuation.yield($0.localAddress?.port ?? 0) }.runService() }
            defer { group.cancelAll() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let url = "http://127.0.0.1:\(port)"

            let plan = try await EndToEndTests.tandem(["policy", "plan", file, "--server", url, "--token", readOnly, "--json"])
            #expect(plan.status == 0, "\(plan.stderr)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any])
            let policy = try #require((report["policies"] as? [[String: Any]])?.first)
            #expect(policy["selected"] as? Int == 3)
            #expect(policy["converged"] as? Int == 1)
            #expect(policy["changing"] as? Int == 2)
            #expect(policy["operations"] as? [String: Int] == ["set Device.ManagementServer.PeriodicInformInterval": 2])
            #expect((report["migrations"] as? [[String: Any]])?.first?["selected"] as? Int == 3)
            // Planning touched no device.
            #expect(try await server.registry.countDevices(matching: DeviceFilter()) == 3)
            for device in try await server.registry.devices(matching: DeviceFilter(), page: Page()) {
                #expect(try await server.registry.tasks(deviceID: device.id, states: []).isEmpty)
            }

            // Applying needs an admin token.
            let refused = try await EndToEndTests.tandem(["policy", "apply", file, "--server", url, "--token", readOnly])
            #expect(refused.status == 2)
            let applied = try await EndToEndTests.tandem(["policy", "apply", file, "--server", url, "--token", admin])
            #expect(applied.status == 0, "\(applied.stderr)")
            #expect(applied.stdout.contains("1 policy(ies), 1 migration(s)"))
            #expect(try await server.registry.currentPolicyDocument()?.actor == "token:cli-admin")

            // The migration waits for its window; pause and resume are recorded.
            let status = try await EndToEndTests.tandem(["migration", "status", "--server", url, "--token", readOnly, "--json"])
            #expect(status.status == 0, "\(status.stderr)")
            let migrations = try #require((try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])?["migrations"] as? [[String: Any]])
            #expect(migrations.first?["name"] as? String == "to-usp")
            #expect((migrations.first?["waves"] as? [[String: Any]])?.first?["devices"] as? Int == 3)
            let table = try await EndToEndTests.tandem(["migration", "status", "--server", url, "--token", readOnly])
            #expect(table.stdout.contains("migration to-usp: running"))
            #expect(table.stdout.contains("[....................]   0%"))

            let pause = try await EndToEndTests.tandem(["migration", "pause", "to-usp", "--server", url, "--token", admin])
            #expect(pause.status == 0, "\(pause.stderr)")
            #expect(try await server.registry.migrationStatus(name: "to-usp")?.state == .paused)
            #expect(try await server.registry.events(deviceID: nil, limit: 5).contains { $0.summary.hasPrefix("migration to-usp: paused") && $0.actor == "token:cli-admin" })
            let resume = try await EndToEndTests.tandem(["migration", "resume", "to-usp", "--server", url, "--token", admin])
            #expect(resume.status == 0)
            #expect(try await server.registry.migrationStatus(name: "to-usp")?.state == .running)
            let unknown = try await EndToEndTests.tandem(["migration", "pause", "nope", "--server", url, "--token", admin])
            #expect(unknown.status == 2)
            #expect(unknown.stderr.contains("no migration named \"nope\""))
        }
    }
}
