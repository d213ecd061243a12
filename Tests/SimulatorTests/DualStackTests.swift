import CWMP
import Foundation
import Logging
import MTP
import MTPMQTT
import MTPWebSocket
import Simulator
import TandemCore
import Testing
import USP

/// Dual-stack devices: the ACS writes the USP on-boarding template over CWMP (FakeACS, real HTTP
/// and SOAP), the device's agent connects to a real USP MTP (a WebSocket listener started here, or
/// the mosquitto of TANDEM_TEST_MQTT), on-boards, and answers over USP against the data model the
/// CWMP side serves.
@Suite(.timeLimit(.minutes(2))) struct DualStackTests {
    static let controllerID = "self::tandem-test-controller"

    @Test func webSocketTemplateStartsTheAgentWhichOnBoardsAndSharesTheDataModel() async throws {
        try await Self.withWebSocketTemplate { controller, acs, fleet in
            let device = fleet.devices[0]
            let (boot, linkedID) = try await Self.templateSession(acs)

            // WebSocketConnect (R-MTP.6), then the OnBoardRequest, from the endpoint linked to the DeviceId.
            let connect = try await controller.waitForRecord { record in
                if case .webSocketConnect = record.record.kind { record } else { nil }
            }
            #expect(connect.record.fromID == linkedID)
            #expect(connect.record.toID == Self.controllerID)
            let onBoard = try await controller.waitForOnBoardRequest()
            #expect(onBoard.from == linkedID)
            #expect(onBoard.request.oui == "ACDE48")
            #expect(onBoard.request.productClass == boot.inform.deviceID.productClass)
            #expect(onBoard.request.serialNumber == "SIM000001")
            #expect(onBoard.request.agentSupportedVersions.contains("1.4"))
            #expect(onBoard.sendResponse)

            let status = try await device.waitForUSPAgent { $0.onBoardRequestsAnswered == 1 }
            #expect(status.state == .connected)
            #expect(status.endpointID == linkedID)
            #expect(
                status.target?.transport
                    == .webSocket(url: "ws://127.0.0.1:\(try await controller.webSocketPort())/usp"))
            // A command parameter: it reads back false.
            #expect(
                await device.value("Device.USPAgent.Controller.1.SendOnBoardRequest") == .boolean(false))

            // USP Get answers what the CWMP side reports.
            let got = try await controller.get(
                [
                    "Device.DeviceInfo.SerialNumber", "Device.LocalAgent.EndpointID",
                    "Device.CWMPManagementServer.EnableCWMP",
                ], from: linkedID)
            #expect(got["Device.DeviceInfo.SerialNumber"] == boot.inform.deviceID.serialNumber)
            #expect(got["Device.LocalAgent.EndpointID"] == linkedID)
            #expect(got["Device.CWMPManagementServer.EnableCWMP"] == "true")
            // CWMP-only names do not exist over USP.
            let hidden = try await controller.request(
                .get(USPGet(paramPaths: ["Device.ManagementServer.Password"])), to: linkedID)
            guard case .response(.getResponse(let response)) = hidden.body else {
                Issue.record("no GetResponse: \(hidden.body)")
                return
            }
            #expect(response.results.first?.failure?.code == .invalidPath)

            // A USP Set is what the ACS reads next.
            let set = try await controller.request(
                .set(
                    USPSet(updateObjects: [
                        .init(
                            objectPath: "Device.WiFi.SSID.1.",
                            settings: [USPParameterSetting(name: "SSID", value: "Set-Over-USP")])
                    ])),
                to: linkedID)
            guard case .response(.setResponse) = set.body else {
                Issue.record("Set failed: \(set.body)")
                return
            }
            await acs.enqueue(
                .getParameterValues(names: [
                    "Device.WiFi.SSID.1.SSID", "Device.USPAgent.MTP.",
                    "Device.USPAgent.Controller.1.MTP.1.Protocol",
                ]))
            await device.requestSession(events: [CWMPEvent(code: .periodic)])
            let second = try await acs.waitForEndedSessions(2)[1]
            let read = try #require(values(second.answer(to: "GetParameterValues")))
            #expect(read.value("Device.WiFi.SSID.1.SSID") == .string("Set-Over-USP"))
            #expect(read.value("Device.USPAgent.Controller.1.MTP.1.Protocol") == .string("WebSocket"))

            // The ACS disables the Controller: the agent goes away.
            await acs.enqueue(
                .setParameterValues(
                    parameters: [
                        CWMPParameterValue(name: "Device.USPAgent.Controller.1.Enable", value: .boolean(false))
                    ], parameterKey: "usp-off"))
            await device.requestSession(events: [CWMPEvent(code: .periodic)])
            try await acs.waitForEndedSessions(3)
            let off = try await device.waitForUSPAgent { $0.state == .off }
            #expect(off.target == nil)
            try await controller.waitForPeerDisconnected()
        }
    }

    @Test func mqttTemplateStartsTheAgentAndUSPCanSwitchCWMPOff() async throws {
        guard let broker = try Self.broker() else { return }
        for version in ["5.0", "3.1.1"] {
            let suffix = UUID().uuidString.prefix(8).lowercased()
            let controllerTopic = "usp/controller/sim-\(suffix)"
            let agentTopic = "usp/agent/sim-\(suffix)"
            let controller = try USPTestController.mqtt(
                host: broker.host, port: broker.port, topic: controllerTopic)
            try await controller.running { controller in
                let acs = FakeACS()
                await acs.enqueue(
                    contentsOf: Self.mqttTemplate(
                        host: broker.host, port: broker.port, version: version,
                        controllerTopic: controllerTopic, agentTopic: agentTopic))
                try await withSimulation(acs: acs, configure: Self.dualStack) { acs, fleet in
                    let device = fleet.devices[0]
                    let (boot, linkedID) = try await Self.templateSession(acs)

                    let connect = try await controller.waitForRecord { record in
                        if case .mqttConnect(let mqttVersion, let topic) = record.record.kind {
                            (mqttVersion, topic, record.record.fromID)
                        } else {
                            nil
                        }
                    }
                    #expect(connect.0 == (version == "5.0" ? .v5 : .v3_1_1))
                    #expect(connect.1 == agentTopic)
                    #expect(connect.2 == linkedID)
                    let onBoard = try await controller.waitForOnBoardRequest()
                    #expect(onBoard.from == linkedID)
                    #expect(onBoard.request.serialNumber == boot.inform.deviceID.serialNumber)
                    #expect(onBoard.request.oui == boot.inform.deviceID.oui)
                    _ = try await device.waitForUSPAgent {
                        $0.state == .connected && $0.onBoardRequestsAnswered == 1
                    }
                    #expect(await device.value("Device.USPAgent.MTP.1.Status") == .string("Up"))
                    #expect(await device.value("Device.MQTT.Client.1.Status") == .string("Connected"))

                    let got = try await controller.get(
                        [
                            "Device.DeviceInfo.SerialNumber",
                            "Device.LocalAgent.MTP.1.MQTT.ResponseTopicConfigured",
                        ], from: linkedID)
                    #expect(got["Device.DeviceInfo.SerialNumber"] == boot.inform.deviceID.serialNumber)
                    #expect(got["Device.LocalAgent.MTP.1.MQTT.ResponseTopicConfigured"] == agentTopic)

                    // USP switches CWMP off: no more Informs, connection requests refused; USP stays.
                    let set = try await controller.request(
                        .set(
                            USPSet(updateObjects: [
                                .init(
                                    objectPath: "Device.CWMPManagementServer.",
                                    settings: [USPParameterSetting(name: "EnableCWMP", value: "false")])
                            ])),
                        to: linkedID)
                    guard case .response(.setResponse) = set.body else {
                        Issue.record("Set EnableCWMP failed: \(set.body)")
                        return
                    }
                    #expect(await device.value("Device.ManagementServer.EnableCWMP") == .boolean(false))
                    #expect(await device.status().cwmpEnabled == false)
                    await device.requestSession(events: [CWMPEvent(code: .periodic)])
                    let crURL = await device.connectionRequestURL
                    #expect(
                        try await ConnectionRequestTests.connectionRequest(
                            crURL, username: "SIM000001", password: "cr-SIM000001") == 503)
                    try await Task.sleep(for: .milliseconds(800))
                    #expect(await acs.sessions().count == 1, "an Inform after EnableCWMP false")
                    let after = try await controller.get(
                        ["Device.CWMPManagementServer.EnableCWMP"], from: linkedID)
                    #expect(after["Device.CWMPManagementServer.EnableCWMP"] == "false")
                    #expect(await device.uspAgentStatus().state == .connected)
                }
            }
        }
    }

    @Test func brokenAgentAcceptsTheWritesButNeverConnects() async throws {
        try await Self.withWebSocketTemplate(configure: { $0.uspNeverConnecting = 1 }) {
            controller, acs, fleet in
            #expect(fleet.configuration.uspAgentBehaviour(at: 0) == .neverConnects)
            let device = fleet.devices[0]
            let (boot, _) = try await Self.templateSession(acs)
            #expect(boot.exchanges.count == 5)
            let status = try await device.waitForUSPAgent { $0.target != nil }
            #expect(status.onBoardRequestsAsked == 1)
            try await Task.sleep(for: .seconds(2))
            let later = await device.uspAgentStatus()
            #expect(later.state == .connecting)
            #expect(later.onBoardRequestsSent == 0)
            #expect(await controller.recordCount() == 0)
            #expect(await controller.peersConnected() == 0)
            // CWMP keeps working, so the ACS can roll the writes back.
            await acs.enqueue(
                .deleteObject(objectName: "Device.USPAgent.Controller.1.", parameterKey: "rollback"))
            await device.requestSession(events: [CWMPEvent(code: .periodic)])
            let rollback = try await acs.waitForEndedSessions(2)[1]
            #expect(rollback.answer(to: "DeleteObject")?.cpeResponse == .deleteObject(status: 0))
            #expect(try await device.waitForUSPAgent { $0.state == .off }.target == nil)
        }
    }

    @Test func agentIgnoringGetsConnectsAndAnswersNoGet() async throws {
        try await Self.withWebSocketTemplate(configure: { $0.uspIgnoringGets = 1 }) {
            controller, acs, fleet in
            let (_, linkedID) = try await Self.templateSession(acs)
            let onBoard = try await controller.waitForOnBoardRequest()
            #expect(onBoard.from == linkedID)
            await #expect(throws: TestFailure.self) {
                _ = try await controller.request(
                    .get(USPGet(paramPaths: ["Device.DeviceInfo.SerialNumber"])), to: linkedID,
                    timeout: .seconds(1))
            }
            // Other requests are answered.
            let instances = try await controller.request(
                .getInstances(USPGetInstances(objectPaths: ["Device.WiFi.SSID."])), to: linkedID)
            guard case .response(.getInstancesResponse(let response)) = instances.body else {
                Issue.record("no GetInstancesResponse: \(instances.body)")
                return
            }
            #expect(
                response.results.first?.instances.map(\.path) == [
                    "Device.WiFi.SSID.1.", "Device.WiFi.SSID.2.",
                ])
        }
    }

    @Test func incompleteConfigurationKeepsTheAgentOff() async throws {
        let acs = FakeACS()
        // The Controller's MTP is never enabled.
        await acs.enqueue(
            contentsOf: Array(Self.webSocketTemplate(port: 9, path: "/usp").dropLast(2)) + [
                .setParameterValues(
                    parameters: [
                        CWMPParameterValue(
                            name: "Device.USPAgent.Controller.1.MTP.1.Protocol", value: .string("WebSocket")),
                        CWMPParameterValue(
                            name: "Device.USPAgent.Controller.1.MTP.1.WebSocket.Host", value: .string("127.0.0.1")
                        ),
                    ], parameterKey: "partial"),
                .setParameterValues(
                    parameters: [
                        CWMPParameterValue(
                            name: "Device.USPAgent.Controller.1.SendOnBoardRequest", value: .boolean(true))
                    ], parameterKey: "partial"),
            ])
        try await withSimulation(acs: acs, configure: Self.dualStack) { acs, fleet in
            let boot = try #require(try await acs.waitForEndedSessions(1).first)
            #expect(boot.exchanges.allSatisfy { $0.answer.fault == nil })
            let status = await fleet.devices[0].uspAgentStatus()
            #expect(status.state == .off)
            #expect(status.target == nil)
            #expect(status.starts == 0)
            #expect(status.onBoardRequestsAsked == 1)
        }
    }

    @Test func uspViewMapsLocalAgentAndEnableCWMPOntoTheCWMPModel() async throws {
        let device = try SimulatedCPE(
            configuration: .init(
                profile: DeviceProfile(serialNumber: "SIM/42", acsURL: "http://127.0.0.1:9/acs"),
                dualStack: DualStackOptions()))
        func get(_ paths: [String]) async -> USPGetResponse? {
            if case .response(.getResponse(let response)) = await device.handleUSPRequest(
                .get(USPGet(paramPaths: paths)))
            {
                response
            } else {
                nil
            }
        }
        let response = try #require(
            await get([
                "Device.LocalAgent.EndpointID", "Device.CWMPManagementServer.",
                "Device.USPAgent.EndpointID",
            ]))
        // R-ARC.5: `/` is percent-encoded in the instance part of the endpoint ID.
        #expect(
            response.results[0].resolvedPaths.first?.parameters["EndpointID"] == "os::ACDE48-SIM%2F42")
        #expect(response.results[1].resolvedPaths.first?.parameters == ["EnableCWMP": "true"])
        #expect(response.results[2].failure?.code == .invalidPath)

        // Add over USP creates the CWMP instance, with its settings checked like SetParameterValues.
        let added = await device.handleUSPRequest(
            .add(
                USPAdd(createObjects: [
                    .init(
                        objectPath: "Device.LocalAgent.Controller.",
                        settings: [USPParameterSetting(name: "EndpointID", value: "self::other")])
                ])))
        guard case .response(.addResponse(let addResponse)) = added,
            case .success(let created) = addResponse.results.first?.status
        else {
            Issue.record("Add failed: \(added)")
            return
        }
        #expect(created.instantiatedPath == "Device.LocalAgent.Controller.1.")
        #expect(await device.value("Device.USPAgent.Controller.1.EndpointID") == .string("self::other"))
        let refused = await device.handleUSPRequest(
            .set(
                USPSet(updateObjects: [
                    .init(
                        objectPath: "Device.LocalAgent.Controller.1.",
                        settings: [USPParameterSetting(name: "PeriodicNotifInterval", value: "0")])
                ])))
        guard case .error(let error) = refused else {
            Issue.record("a value out of range was accepted: \(refused)")
            return
        }
        #expect(error.parameterErrors.first?.code == .invalidValue)
        // USP-only tables live beside the CWMP model.
        let subscription = await device.handleUSPRequest(
            .add(
                USPAdd(createObjects: [
                    .init(
                        objectPath: "Device.LocalAgent.Subscription.",
                        settings: [
                            USPParameterSetting(name: "ID", value: "boot"),
                            USPParameterSetting(name: "NotifType", value: "Event"),
                            USPParameterSetting(name: "ReferenceList", value: "Device.Boot!"),
                            USPParameterSetting(name: "Enable", value: "true"),
                        ])
                ])))
        guard case .response(.addResponse) = subscription else {
            Issue.record("subscription not created: \(subscription)")
            return
        }
        let subscriptions = try #require(await get(["Device.LocalAgent.Subscription.1.ID"]))
        #expect(subscriptions.results.first?.resolvedPaths.first?.parameters["ID"] == "boot")
        #expect(
            try await device.dataModel().getParameterNames(path: "Device.", nextLevel: true).map(\.name)
                .contains("Device.LocalAgent.") == false)
    }

    // MARK: Fixtures

    /// A WebSocket Controller listening, and one dual-stack device whose boot session gets the
    /// WebSocket template from the ACS.
    static func withWebSocketTemplate(
        configure: @escaping (inout SimulatedFleet.Configuration) -> Void = { _ in },
        _ body: @escaping (USPTestController, FakeACS, SimulatedFleet) async throws -> Void
    ) async throws {
        let controller = try USPTestController.webSocket()
        try await controller.running { controller in
            let acs = FakeACS()
            await acs.enqueue(
                contentsOf: webSocketTemplate(port: try await controller.webSocketPort(), path: "/usp"))
            try await withSimulation(
                acs: acs,
                configure: { configuration in
                    dualStack(&configuration)
                    configure(&configuration)
                }
            ) { acs, fleet in try await body(controller, acs, fleet) }
        }
    }

    /// The first session, in which the ACS wrote the template: every write must have been
    /// accepted. Returns it with the endpoint ID Tandem links to its DeviceId (`os::OUI-Serial`).
    static func templateSession(_ acs: FakeACS) async throws -> (FakeACS.Session, String) {
        let boot = try #require(try await acs.waitForEndedSessions(1).first)
        for exchange in boot.exchanges {
            #expect(exchange.answer.fault == nil, "\(exchange.method) failed: \(exchange.answer)")
        }
        return (boot, "os::\(boot.inform.deviceID.oui)-\(boot.inform.deviceID.serialNumber)")
    }

    static func dualStack(_ configuration: inout SimulatedFleet.Configuration) {
        configuration.device.dualStack = DualStackOptions(reconnectDelay: .milliseconds(200))
    }

    /// The on-boarding template for a WebSocket Controller (no agent MTP, no MQTT client).
    static func webSocketTemplate(port: Int, path: String) -> [ACSRequest] {
        controllerTemplate(
            protocol: "WebSocket",
            settings: [
                "WebSocket.Host": .string("127.0.0.1"), "WebSocket.Port": .unsignedInt(UInt32(port)),
                "WebSocket.Path": .string(path),
                "WebSocket.EnableEncryption": .boolean(false),
            ])
    }

    /// The on-boarding template for an MQTT Controller, in the order Tandem writes it.
    static func mqttTemplate(
        host: String, port: Int, version: String, controllerTopic: String, agentTopic: String
    ) -> [ACSRequest] {
        [
            .addObject(objectName: "Device.MQTT.Client.", parameterKey: "usp-client"),
            setting(
                "Device.MQTT.Client.1.",
                [
                    "BrokerAddress": .string(host), "BrokerPort": .unsignedInt(UInt32(port)),
                    "ProtocolVersion": .string(version), "Enable": .boolean(true),
                ]),
            .addObject(objectName: "Device.USPAgent.MTP.", parameterKey: "usp-agent-mtp"),
            setting(
                "Device.USPAgent.MTP.1.",
                [
                    "Protocol": .string("MQTT"), "MQTT.Reference": .string("Device.MQTT.Client.1"),
                    "MQTT.ResponseTopicConfigured": .string(agentTopic),
                    "Enable": .boolean(true),
                ]),
        ] + controllerTemplate(protocol: "MQTT", settings: ["MQTT.Topic": .string(controllerTopic)])
    }

    /// Controller 1 with its MTP 1 of `protocol` (`settings` relative to the MTP), then SendOnBoardRequest.
    static func controllerTemplate(protocol name: String, settings: [String: TypedValue])
        -> [ACSRequest]
    {
        let controller = "Device.USPAgent.Controller.1."
        var mtp = settings
        mtp["Protocol"] = .string(name)
        mtp["Enable"] = .boolean(true)
        return [
            .addObject(objectName: "Device.USPAgent.Controller.", parameterKey: "usp-controller"),
            setting(controller, ["EndpointID": .string(controllerID), "Enable": .boolean(true)]),
            .addObject(objectName: controller + "MTP.", parameterKey: "usp-controller-mtp"),
            setting(controller + "MTP.1.", mtp),
            setting(controller, ["SendOnBoardRequest": .boolean(true)]),
        ]
    }

    /// SetParameterValues of `values` (names relative to `object`), in name order.
    static func setting(_ object: String, _ values: [String: TypedValue]) -> ACSRequest {
        .setParameterValues(
            parameters: values.sorted { $0.key < $1.key }.map {
                CWMPParameterValue(name: object + $0.key, value: $0.value)
            }, parameterKey: "usp")
    }

    /// The broker from TANDEM_TEST_MQTT; the test is skipped without it (and fails under CI).
    static func broker() throws -> (host: String, port: Int)? {
        let environment = ProcessInfo.processInfo.environment
        guard let value = environment["TANDEM_TEST_MQTT"], let colon = value.lastIndex(of: ":"),
            let port = Int(value[value.index(after: colon)...])
        else {
            if environment["CI"] == "true" {
                Issue.record(
                    "TANDEM_TEST_MQTT is not set: under CI, Scripts/test must start mosquitto and export it")
            }
            return nil
        }
        return (String(value[..<colon]), port)
    }

}

extension FakeACS {
    func enqueue(contentsOf requests: [ACSRequest], serial: String? = nil) async {
        await state.enqueue(requests.map(ScriptItem.request), serial: serial)
    }
}
