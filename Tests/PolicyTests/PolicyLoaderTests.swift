import Foundation
import Policy
import TandemCore
import Testing

/// The repository root, from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

@Suite struct PolicyLoaderTests {
    @Test func exampleFileLoadsWithEverySection() throws {
        let path = repositoryRoot.appendingPathComponent("Fixtures/policies/example-fleet.yaml").path
        let document = try PolicyLoader.load(try String(contentsOfFile: path, encoding: .utf8), file: path)
        #expect(document.policies.map(\.name) == ["management-defaults", "guest-wifi", "ont-firmware"])

        let defaults = try #require(document.policy(named: "management-defaults"))
        #expect(defaults.triggers == [.bootstrap, .boot, .periodic, .onDemand])
        #expect(defaults.selector.activeProtocol == .cwmp)
        #expect(defaults.desired.parameters == [
            DesiredParameter(path: "Device.ManagementServer.PeriodicInformInterval", value: .unsignedInt(3600)),
            DesiredParameter(path: "Device.Time.NTPServer1", value: .string("ntp.example.net")),
        ])

        let guest = try #require(document.policy(named: "guest-wifi"))
        #expect(guest.triggers == Set(PolicyTrigger.allCases))
        #expect(guest.selector.manufacturers == ["Acme Networks"])
        #expect(guest.selector.productClasses == ["IGD", "ONT"])
        #expect(guest.selector.softwareVersion?.description == ">=1.0 <3")
        #expect(guest.desired.objects == [DesiredObject(table: "Device.WiFi.SSID.", key: ["SSID": .string("acme-guest")], values: ["Enable": .boolean(true)])])

        let firmware = try #require(document.policy(named: "ont-firmware")?.desired.firmware)
        #expect(firmware == FirmwareTarget(version: "2.4.1", url: "http://files.example.net/ont-2.4.1.bin", fileSize: 16_777_216))

        let migration = try #require(document.migration(named: "gateways-to-usp"))
        #expect(migration.target == .mqtt(
            host: "mqtt.example.net", port: 1883, protocolVersion: "5.0", agentTopic: "usp/agent/{{endpointID}}", controllerTopic: "usp/controller/tandem"))
        #expect(migration.waves.map(\.percent) == [5, 50, 100])
        #expect(migration.maxPerHour == 500)
        #expect(migration.maintenanceWindows.map(\.description) == ["01:00-05:00"])
        #expect(migration.verifyWithinSeconds == 600)
        #expect(migration.disableCWMP)
        #expect(migration.selector.ouis == ["00D09E"])
        #expect(migration.vendorTemplates.first?.parameters.count == 5)
    }

    @Test func jsonIsAcceptedToo() throws {
        let json = """
            {"policies": [{"name": "interval", "ensure": {"parameters": {"Device.ManagementServer.PeriodicInformInterval": 600}}}]}
            """
        let document = try PolicyLoader.load(json, file: "p.json")
        #expect(document.policies.first?.desired.parameters.first?.value == .unsignedInt(600))
    }

    @Test func orderSortsPoliciesAndTypedValuesKeepTheirType() throws {
        let yaml = """
            policies:
              - name: b
                order: 2
                ensure:
                  parameters:
                    Device.X.Quoted: "42"
                    Device.X.Typed: {value: "-5", type: int}
                    Device.X.Flag: false
              - name: a
                order: 1
                ensure: {parameters: {Device.X.Y: text}}
            """
        let document = try PolicyLoader.load(yaml, file: "p.yaml")
        #expect(document.policies.map(\.name) == ["a", "b"])
        let values = Dictionary(uniqueKeysWithValues: document.policies[1].desired.parameters.map { ($0.path, $0.value) })
        #expect(values["Device.X.Quoted"] == .string("42"))
        #expect(values["Device.X.Typed"] == .int(-5))
        #expect(values["Device.X.Flag"] == .boolean(false))
    }

    /// Every error, each at the line and column of the offending value.
    @Test func errorsNameFileLineAndColumn() throws {
        let yaml = """
            policies:
              - name: one
                tirggers: [boot]
                ensure:
                  parameters:
                    Device.WiFi.SSID.*.SSID: x
              - name: one
                select: {oui: "12345Z", percent: 150}
                ensure: {parameters: {Device.A.B: 1}}
            migrations:
              - name: m
                target: {mtp: mqtt, host: broker, path: /x}
                controllerEndpointID: nonsense
                waves: [{percent: 50}, {percent: 20}]
                maintenanceWindows: ["25:00-01:00"]
            """
        let error = try #require(throws: PolicyValidationError.self) { try PolicyLoader.load(yaml, file: "fleet.yaml") }
        let lines = error.errors.map(\.description)
        #expect(lines.contains("fleet.yaml:3:5: unknown key \"tirggers\" in a policy (did you mean \"triggers\"?)"))
        #expect(lines.contains { $0.hasPrefix("fleet.yaml:6:9: \"Device.WiFi.SSID.*.SSID\" is not a concrete TR-181 parameter path") })
        #expect(lines.contains("fleet.yaml:8:19: \"12345Z\" is not an OUI (six hexadecimal digits)"))
        #expect(lines.contains("fleet.yaml:8:38: percent must be in (0, 100], not 150.0"))
        #expect(lines.contains("fleet.yaml:7:5: a policy named \"one\" is defined twice"))
        #expect(lines.contains("fleet.yaml:12:45: \"path\" does not apply to an mqtt target"))
        #expect(lines.contains { $0.hasPrefix("fleet.yaml:13:27: \"nonsense\" is not a USP endpoint ID") })
        #expect(lines.contains("fleet.yaml:14:38: wave percentages are cumulative and must grow: 20.0 follows 50.0"))
        #expect(lines.contains { $0.hasPrefix("fleet.yaml:15:26: bad maintenance window \"25:00-01:00\"") })
        // The first policy's only parameter was refused, so it ensures nothing.
        #expect(lines.contains("fleet.yaml:5:7: policy \"one\" ensures nothing"))
        #expect(error.errors.count == 10)
    }

    @Test func yamlSyntaxErrorsArePositioned() throws {
        let yaml = "policies:\n  - name: a\n    ensure: {parameters: {Device.A.B: 1}\n"
        let error = try #require(throws: PolicyValidationError.self) { try PolicyLoader.load(yaml, file: "broken.yaml") }
        #expect(error.errors.count == 1)
        let first = try #require(error.errors.first)
        #expect(first.file == "broken.yaml")
        #expect(first.line == 4)
        #expect(first.message.hasPrefix("YAML syntax:"))
    }

    @Test func aliasBombsAreBounded() throws {
        // Each level doubles the node count: 2^30 nodes if expanded.
        var yaml = "a0: &a0 [x, x]\n"
        for level in 1...30 { yaml += "a\(level): &a\(level) [*a\(level - 1), *a\(level - 1)]\n" }
        yaml += "policies: *a30\n"
        let clock = ContinuousClock()
        let start = clock.now
        let error = try #require(throws: PolicyValidationError.self) { try PolicyLoader.load(yaml, file: "bomb.yaml") }
        #expect(clock.now - start < .seconds(10))
        #expect(error.errors.contains { $0.message.contains("unknown key") || $0.message.contains("more than") })
    }

    @Test func emptyAndWrongShapedDocumentsAreRefused() throws {
        #expect(throws: PolicyValidationError.self) { try PolicyLoader.load("", file: "e.yaml") }
        let error = try #require(throws: PolicyValidationError.self) { try PolicyLoader.load("policies: 3\n", file: "e.yaml") }
        #expect(error.errors.map(\.description) == ["e.yaml:1:11: \"policies\" must be a list"])
        let missing = try #require(throws: PolicyValidationError.self) {
            try PolicyLoader.load("policies:\n  - name: x\n", file: "e.yaml")
        }
        #expect(missing.errors.map(\.message) == ["policy \"x\" has no \"ensure:\" section"])
    }
}
