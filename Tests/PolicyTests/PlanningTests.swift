import Foundation
import Policy
import TandemCore
import Testing

@Suite struct SelectorTests {
    let device = DeviceFacts(
        key: "00D09E-IGD-S1", manufacturer: "Acme", oui: "00d09e", productClass: "IGD", serialNumber: "S1", softwareVersion: "1.10.2",
        tags: ["lab", "north"], activeProtocol: .cwmp, parameters: ["Device.DeviceInfo.ModelName": .string("X-200"), "Device.WiFi.Radio.1.Enable": .boolean(true)])

    @Test func criteriaMustAllHold() throws {
        var selector = DeviceSelector()
        #expect(selector.matches(device))
        selector.ouis = ["00D09E"]
        selector.productClasses = ["igd"]
        selector.softwareVersion = try VersionRange(parsing: ">=1.9 <2")
        selector.tags = ["lab"]
        selector.activeProtocol = .cwmp
        selector.parameters = [
            ParameterCondition(path: "Device.DeviceInfo.ModelName", test: .contains("200")),
            ParameterCondition(path: "Device.WiFi.Radio.1.Enable", test: .equals("1")),
            ParameterCondition(path: "Device.Missing", test: .exists(false)),
        ]
        #expect(selector.matches(device))
        selector.tags = ["lab", "south"]
        #expect(!selector.matches(device))
        selector.tags = []
        selector.activeProtocol = .usp
        #expect(!selector.matches(device))
    }

    @Test func versionRanges() throws {
        #expect(try VersionRange(parsing: ">=1.9.0").contains("1.10"))
        #expect(try !VersionRange(parsing: "<1.9").contains("1.10.0"))
        #expect(try VersionRange(parsing: "1.10.*").contains("1.10.7"))
        #expect(try !VersionRange(parsing: "1.10.*").contains("1.1.0"))
        #expect(try VersionRange(parsing: "!=2.0-rc1").contains("2.0-rc2"))
        #expect(try VersionRange(parsing: "2.0").contains("2.0.0"))
        #expect(throws: PolicyProblem.self) { try VersionRange(parsing: ">=") }
        #expect(throws: PolicyProblem.self) { try VersionRange(parsing: "<1.*") }
    }

    @Test func percentBucketsAreStableAndEven() {
        let keys = (0..<10_000).map { "00D09E-IGD-SN\($0)" }
        let first = keys.map { StableBucket.percentile(of: $0) }
        #expect(first == keys.map { StableBucket.percentile(of: $0) })
        let underTen = first.filter { $0 < 10 }.count
        #expect((850...1150).contains(underTen), "10 % of 10,000 devices should be about 1,000, got \(underTen)")
        // A salt gives another draw.
        let salted = keys.map { StableBucket.percentile(of: $0, salt: "m1") }
        #expect(zip(first, salted).filter { ($0 < 10) != ($1 < 10) }.count > 100)
    }

    /// A device's bucket must not move between releases: a canary wave would otherwise pick other
    /// devices after an upgrade.
    @Test func percentBucketsKeepTheirValues() {
        #expect(StableBucket.percentile(of: "00D09E-IGD-SN1") == 60.7)
        #expect(StableBucket.percentile(of: "00D09E-IGD-SN2") == 67.77)
        #expect(StableBucket.percentile(of: "os::00D09E-USP1", salt: "m1") == 62.98)
    }

    @Test func maintenanceWindowsSpanMidnight() throws {
        let night = try MaintenanceWindow(parsing: "22:30-02:00")
        #expect(night.contains(minuteOfDay: 23 * 60))
        #expect(night.contains(minuteOfDay: 60))
        #expect(!night.contains(minuteOfDay: 12 * 60))
        #expect(!night.contains(minuteOfDay: 2 * 60))
        #expect(throws: PolicyProblem.self) { try MaintenanceWindow(parsing: "10:00-10:00") }
    }
}

@Suite struct DesiredStatePlannerTests {
    func policy(_ name: String, order: Int = 0, _ desired: DesiredState) -> Policy {
        Policy(name: name, order: order, desired: desired)
    }

    @Test func convergedDevicePlansNothing() {
        let facts = DeviceFacts(key: "d", parameters: [
            "Device.ManagementServer.PeriodicInformInterval": .unsignedInt(3600), "Device.WiFi.SSID.2.SSID": .string("guest"),
            "Device.WiFi.SSID.2.Enable": .string("1"),
        ])
        let desired = DesiredState(
            parameters: [DesiredParameter(path: "Device.ManagementServer.PeriodicInformInterval", value: .unsignedInt(3600))],
            objects: [DesiredObject(table: "Device.WiFi.SSID.", key: ["SSID": .string("guest")], values: ["Enable": .boolean(true)])])
        #expect(DesiredStatePlanner.plan([policy("p", desired)], for: facts).isEmpty)
    }

    @Test func differingAndUnknownParametersAreSetInOneOperation() throws {
        let facts = DeviceFacts(key: "d", parameters: ["Device.A.B": .string("old")])
        let desired = DesiredState(parameters: [
            DesiredParameter(path: "Device.A.B", value: .string("new")), DesiredParameter(path: "Device.A.C", value: .unsignedInt(7)),
        ])
        let planned = DesiredStatePlanner.plan([policy("p", desired)], for: facts)
        #expect(planned.count == 1)
        guard case .set(let values, false, nil) = try #require(planned.first).operation else { Issue.record("expected a set"); return }
        #expect(values.map(\.path.description) == ["Device.A.B", "Device.A.C"])
        #expect(values.map(\.value) == [.string("new"), .unsignedInt(7)])
    }

    @Test func laterPolicyWinsOnTheSameParameter() throws {
        let facts = DeviceFacts(key: "d", parameters: ["Device.A.B": .string("second")])
        let first = policy("first", order: 1, DesiredState(parameters: [DesiredParameter(path: "Device.A.B", value: .string("first"))]))
        let second = policy("second", order: 2, DesiredState(parameters: [DesiredParameter(path: "Device.A.B", value: .string("second"))]))
        // Document order is by `order`: "second" comes last and already holds.
        #expect(DesiredStatePlanner.plan(PolicyDocument(policies: [second, first]).policies, for: facts).isEmpty)
    }

    @Test func unknownTableIsReadFirstThenTheInstanceIsAdded() throws {
        let object = DesiredObject(table: "Device.WiFi.SSID.", key: ["SSID": .string("guest")], values: ["Enable": .boolean(true)])
        let unknown = DesiredStatePlanner.plan([policy("wifi", DesiredState(objects: [object]))], for: DeviceFacts(key: "d"))
        #expect(unknown.map(\.operation) == [.get(paths: [try PathExpression("Device.WiFi.SSID.")])])

        let known = DeviceFacts(key: "d", parameters: ["Device.WiFi.SSID.1.SSID": .string("home"), "Device.WiFi.SSID.1.Enable": .boolean(true)])
        let planned = DesiredStatePlanner.plan([policy("wifi", DesiredState(objects: [object]))], for: known)
        guard case .add(let table, let settings) = try #require(planned.first).operation else { Issue.record("expected an add"); return }
        #expect(table.description == "Device.WiFi.SSID.")
        #expect(Set(settings.map { "\($0.path)=\($0.value.lexical)" }) == ["SSID=guest", "Enable=true"])

        let present = DeviceFacts(key: "d", parameters: ["Device.WiFi.SSID.4.SSID": .string("guest"), "Device.WiFi.SSID.4.Enable": .boolean(false)])
        let fix = DesiredStatePlanner.plan([policy("wifi", DesiredState(objects: [object]))], for: present)
        #expect(fix.map(\.operation) == [.set(
            values: [ParameterSetting(path: try PathExpression("Device.WiFi.SSID.4.Enable"), value: .boolean(true))], allowPartial: false, parameterKey: nil)])
    }

    @Test func firmwareIsDownloadedOnlyWhenTheVersionDiffers() throws {
        let target = FirmwareTarget(version: "2.0", url: "http://files.example/fw.bin")
        let p = policy("fw", DesiredState(firmware: target))
        #expect(DesiredStatePlanner.plan([p], for: DeviceFacts(key: "d", softwareVersion: "2.0")).isEmpty)
        let planned = DesiredStatePlanner.plan([p], for: DeviceFacts(key: "d", softwareVersion: "1.0"))
        guard case .download(let transfer) = try #require(planned.first).operation else { Issue.record("expected a download"); return }
        #expect(transfer.kind == .firmware)
        #expect(transfer.url == "http://files.example/fw.bin")
    }
}

@Suite struct MigrationTemplateTests {
    let device = DeviceFacts(key: "00D09E-IGD-S1", oui: "00D09E", productClass: "IGD", serialNumber: "S1", softwareVersion: "3.0")

    @Test func mqttTemplateCreatesClientAgentMTPAndController() throws {
        let plan = MigrationPlan(
            name: "m", target: .mqtt(host: "broker", port: 1883, protocolVersion: "5.0", agentTopic: "usp/agent/{{endpointID}}", controllerTopic: "usp/ctl"),
            controllerEndpointID: "self::tandem")
        let (name, steps) = MigrationTemplate.steps(plan: plan, device: device, endpointID: "os::00D09E-S1")
        #expect(name == "tr181-usp-agent")
        #expect(steps.map(\.summary) == [
            "add Device.MQTT.Client.", "add Device.USPAgent.MTP.", "add Device.USPAgent.Controller.", "add {controller}MTP.",
            "set {controller}SendOnBoardRequest",
        ])
        var bindings: [String: String] = [:]
        let first = try MigrationTemplate.operation(for: steps[0], bindings: bindings)
        guard case .add(let table, let settings) = first else { Issue.record("expected an add"); return }
        #expect(table.description == "Device.MQTT.Client.")
        #expect(settings.map { "\($0.path)=\($0.value.lexical)" } == ["BrokerAddress=broker", "BrokerPort=1883", "ProtocolVersion=5.0", "Enable=true"])
        bindings["client"] = "Device.MQTT.Client.2."
        guard case .add(_, let mtp) = try MigrationTemplate.operation(for: steps[1], bindings: bindings) else { Issue.record("expected an add"); return }
        #expect(mtp.map { "\($0.path)=\($0.value.lexical)" } == [
            "Protocol=MQTT", "MQTT.Reference=Device.MQTT.Client.2", "MQTT.ResponseTopicConfigured=usp/agent/os::00D09E-S1", "Enable=true",
        ])
        // A step that refers to an object not created yet is refused, not sent.
        #expect(throws: PolicyProblem.self) { try MigrationTemplate.operation(for: steps[3], bindings: bindings) }
        bindings["controller"] = "Device.USPAgent.Controller.1."
        guard case .add(let controllerMTP, _) = try MigrationTemplate.operation(for: steps[3], bindings: bindings) else { Issue.record("expected an add"); return }
        #expect(controllerMTP.description == "Device.USPAgent.Controller.1.MTP.")
        guard case .set(let last, _, _) = try MigrationTemplate.operation(for: steps[4], bindings: bindings) else { Issue.record("expected a set"); return }
        #expect(last.map(\.path.description) == ["Device.USPAgent.Controller.1.SendOnBoardRequest"])
    }

    @Test func vendorTemplateCapturesThenSetsWithPlaceholders() throws {
        var selector = DeviceSelector()
        selector.softwareVersion = try VersionRange(parsing: ">=3")
        let plan = MigrationPlan(
            name: "m", target: .webSocket(host: "acs.example", port: 8081, path: "/usp", encrypted: false), controllerEndpointID: "self::tandem",
            vendorTemplates: [VendorTemplate(name: "legacy", selector: selector, parameters: [
                DesiredParameter(path: "Device.X_V.Controller", value: .string("{{controllerEndpointID}}@{{host}}:{{port}}{{path}}")),
            ])])
        let (name, steps) = MigrationTemplate.steps(plan: plan, device: device, endpointID: "os::00D09E-S1")
        #expect(name == "legacy")
        #expect(steps == [
            .capture(paths: ["Device.X_V.Controller"]),
            .set(parameters: [TemplateParameter("Device.X_V.Controller", .string("self::tandem@acs.example:8081/usp"))]),
        ])
    }

    @Test func rollbackRestoresThenDeletesTopLevelObjectsNewestFirst() throws {
        let operations = MigrationTemplate.rollback(
            created: ["Device.MQTT.Client.2.", "Device.USPAgent.MTP.1.", "Device.USPAgent.Controller.3.", "Device.USPAgent.Controller.3.MTP.1."],
            restore: [DesiredParameter(path: "Device.X.Y", value: .string("before"))])
        #expect(operations == [
            .set(values: [ParameterSetting(path: try PathExpression("Device.X.Y"), value: .string("before"))], allowPartial: false, parameterKey: nil),
            .delete(objects: [try PathExpression("Device.USPAgent.Controller.3.")]),
            .delete(objects: [try PathExpression("Device.USPAgent.MTP.1.")]),
            .delete(objects: [try PathExpression("Device.MQTT.Client.2.")]),
        ])
    }

    @Test func wavesFollowTheStableBucket() {
        let plan = MigrationPlan(
            name: "m", target: .webSocket(host: "h", port: 1, path: "/", encrypted: false), controllerEndpointID: "self::t",
            waves: [.init(name: "canary", percent: 10), .init(name: "rest", percent: 100)])
        let waves = (0..<2000).map { plan.wave(forKey: "00D09E-IGD-\($0)") }
        #expect(!waves.contains(nil))
        let canary = waves.filter { $0 == 0 }.count
        #expect((140...260).contains(canary), "about 10 % of 2,000 in the canary, got \(canary)")
    }
}
