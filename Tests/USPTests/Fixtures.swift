#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import TandemCore
import Testing
import USP

/// Reads the binary fixtures of `Fixtures/usp` (built from `Fixtures/usp/text/*.txtpb` by
/// `Fixtures/usp/make-fixtures` with protoc, independently of the Swift encoder under test).
enum Fixture {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // USPTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // package root
        .appendingPathComponent("Fixtures/usp")

    static func bytes(_ name: String) throws -> [UInt8] {
        let url = directory.appendingPathComponent("\(name).bin")
        return [UInt8](try Data(contentsOf: url))
    }

    static func allNames(prefix: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasPrefix(prefix) && $0.hasSuffix(".bin") }
            .map { String($0.dropLast(4)) }
            .sorted()
    }
}

let agentID = "os::00D09E-0123456789"
let controllerID = "self::tandem"

/// What each message fixture must decode to, written from its text source.
enum ExpectedMessages {
    static let all: [(String, USPMessage)] = [
        ("msg-get", get),
        ("msg-get-resp", getResponse),
        ("msg-set", set),
        ("msg-set-resp", setResponse),
        ("msg-add", add),
        ("msg-add-resp", addResponse),
        ("msg-delete", delete),
        ("msg-delete-resp", deleteResponse),
        ("msg-operate", operate),
        ("msg-operate-resp", operateResponse),
        ("msg-get-supported-dm", getSupportedDM),
        ("msg-get-supported-dm-resp", getSupportedDMResponse),
        ("msg-get-instances", getInstances),
        ("msg-get-instances-resp", getInstancesResponse),
        ("msg-get-supported-protocol", getSupportedProtocol),
        ("msg-get-supported-protocol-resp", getSupportedProtocolResponse),
        ("msg-notify-event", notifyEvent),
        ("msg-notify-value-change", notifyValueChange),
        ("msg-notify-object-creation", notifyObjectCreation),
        ("msg-notify-object-deletion", notifyObjectDeletion),
        ("msg-notify-operation-complete", notifyOperationComplete),
        ("msg-notify-operation-failure", notifyOperationFailure),
        ("msg-notify-on-board-request", notifyOnBoardRequest),
        ("msg-notify-resp", notifyResponse),
        ("msg-register", register),
        ("msg-register-resp", registerResponse),
        ("msg-deregister", deregister),
        ("msg-deregister-resp", deregisterResponse),
        ("msg-error", error),
    ]

    static let get = USPMessage.get(id: "get-1", paths: ["Device.DeviceInfo.", "Device.WiFi.SSID.*.SSID"], maxDepth: 2)

    static let getResponse = USPMessage(
        id: "get-1",
        response: .getResponse(
            USPGetResponse(results: [
                .init(
                    requestedPath: "Device.DeviceInfo.",
                    resolvedPaths: [
                        .init(
                            resolvedPath: "Device.DeviceInfo.",
                            parameters: ["Manufacturer": "Example", "SoftwareVersion": "1.2.3", "UpTime": "3600"])
                    ]),
                .init(
                    requestedPath: "Device.WiFi.SSID.*.SSID",
                    resolvedPaths: [
                        .init(resolvedPath: "Device.WiFi.SSID.1.", parameters: ["SSID": "home"]),
                        .init(resolvedPath: "Device.WiFi.SSID.2.", parameters: ["SSID": "guest"]),
                    ]),
                .init(requestedPath: "Device.Nope.", failure: USPFailure(code: .invalidPath, message: "Invalid path")),
            ])))

    static let set = USPMessage.set(
        id: "set-1", allowPartial: true,
        objects: [
            .init(
                objectPath: "Device.WiFi.SSID.1.",
                settings: [
                    USPParameterSetting(name: "SSID", value: "home", required: true),
                    USPParameterSetting(name: "Enable", value: "true", required: false),
                ]),
            .init(objectPath: "Device.DeviceInfo.", settings: [USPParameterSetting(name: "ProvisioningCode", value: "ABC")]),
        ])

    static let setResponse = USPMessage(
        id: "set-1",
        response: .setResponse(
            USPSetResponse(results: [
                .init(
                    requestedPath: "Device.WiFi.SSID.1.",
                    status: .success([
                        .init(
                            affectedPath: "Device.WiFi.SSID.1.",
                            parameterErrors: [USPPathError(path: "Enable", code: .notWritable, message: "not writable")],
                            updatedParameters: ["SSID": "home"])
                    ])),
                .init(
                    requestedPath: "Device.DeviceInfo.",
                    status: .failure(
                        USPFailure(code: .requiredParameterFailed, message: "Required parameter failed"),
                        instanceFailures: [
                            .init(
                                affectedPath: "Device.DeviceInfo.",
                                parameterErrors: [USPPathError(path: "ProvisioningCode", code: .invalidValue, message: "Invalid value")])
                        ])),
            ])))

    static let add = USPMessage.add(
        id: "add-1",
        objects: [
            .init(
                objectPath: "Device.LocalAgent.Subscription.",
                settings: [
                    USPParameterSetting(name: "Enable", value: "true"),
                    USPParameterSetting(name: "ID", value: "boot"),
                    USPParameterSetting(name: "NotifType", value: "Event"),
                    USPParameterSetting(name: "ReferenceList", value: "Device.Boot!"),
                    USPParameterSetting(name: "Persistent", value: "true"),
                ])
        ])

    static let addResponse = USPMessage(
        id: "add-1",
        response: .addResponse(
            USPAddResponse(results: [
                .init(
                    requestedPath: "Device.LocalAgent.Subscription.",
                    status: .success(
                        .init(
                            instantiatedPath: "Device.LocalAgent.Subscription.4.",
                            parameterErrors: [USPPathError(path: "Description", code: .unsupportedParameter, message: "Unsupported parameter")],
                            uniqueKeys: ["Alias": "cpe-4", "ID": "boot", "Recipient": "Device.LocalAgent.Controller.1"]))),
                .init(
                    requestedPath: "Device.NAT.PortMapping.",
                    status: .failure(USPFailure(code: .notCreatable, message: "Object is not creatable"))),
            ])))

    static let delete = USPMessage.delete(
        id: "del-1", allowPartial: true,
        objectPaths: ["Device.LocalAgent.Subscription.4.", "Device.NAT.PortMapping.[Description==\"tmp\"]."])

    static let deleteResponse = USPMessage(
        id: "del-1",
        response: .deleteResponse(
            USPDeleteResponse(results: [
                .init(
                    requestedPath: "Device.LocalAgent.Subscription.4.",
                    status: .success(affectedPaths: ["Device.LocalAgent.Subscription.4."], unaffectedPathErrors: [])),
                .init(
                    requestedPath: "Device.NAT.PortMapping.[Description==\"tmp\"].",
                    status: .success(
                        affectedPaths: ["Device.NAT.PortMapping.2."],
                        unaffectedPathErrors: [USPPathError(path: "Device.NAT.PortMapping.3.", code: .deleteFailure, message: "Delete failure")])),
                .init(
                    requestedPath: "Device.Nope.1.",
                    status: .failure(USPFailure(code: .objectDoesNotExist, message: "Object does not exist"))),
            ])))

    static let operate = USPMessage.operate(
        id: "op-1", command: "Device.IP.Diagnostics.IPPing()", commandKey: "ping-1",
        inputArguments: ["Host": "192.0.2.1", "NumberOfRepetitions": "3"])

    static let operateResponse = USPMessage(
        id: "op-1",
        response: .operateResponse(
            USPOperateResponse(results: [
                .init(
                    executedCommand: "Device.IP.Diagnostics.IPPing()",
                    outcome: .outputArguments(["AverageResponseTime": "12", "SuccessCount": "3"])),
                .init(executedCommand: "Device.DeviceInfo.FirmwareImage.2.Download()", outcome: .requestObject("Device.LocalAgent.Request.7.")),
                .init(
                    executedCommand: "Device.SelfTestDiagnostics()",
                    outcome: .failure(USPFailure(code: .commandFailure, message: "Command failure"))),
            ])))

    static let getSupportedDM = USPMessage.getSupportedDM(
        id: "gsdm-1", objectPaths: ["Device.WiFi."], firstLevelOnly: true, returnUniqueKeySets: true)

    static let getSupportedDMResponse = USPMessage(
        id: "gsdm-1",
        response: .getSupportedDMResponse(
            USPGetSupportedDMResponse(results: [
                .init(
                    requestedPath: "Device.WiFi.", dataModelInstanceURI: "urn:broadband-forum-org:tr-181-2-19-0-usp",
                    supportedObjects: [
                        .init(
                            path: "Device.WiFi.SSID.{i}.", access: .addDelete, isMultiInstance: true,
                            commands: [.init(name: "Reset()", type: .sync)],
                            events: [.init(name: "Changed!", argumentNames: ["Reason"])],
                            parameters: [
                                .init(name: "SSID", access: .readWrite, valueType: .string, valueChange: .allowed),
                                .init(name: "Enable", access: .readWrite, valueType: .boolean, valueChange: .allowed),
                                .init(name: "LastChange", access: .readOnly, valueType: .unsignedInt, valueChange: .willIgnore),
                            ],
                            uniqueKeySets: [["Alias"], ["Name"]]),
                        .init(
                            path: "Device.WiFi.Radio.{i}.", access: .readOnly, isMultiInstance: true,
                            commands: [
                                .init(name: "ChannelScan()", inputArgumentNames: ["Channels"], outputArgumentNames: ["Result"], type: .async)
                            ],
                            parameters: [.init(name: "Name")],
                            divergentPaths: ["Device.WiFi.Radio.1."]),
                    ]),
                .init(requestedPath: "Device.Nope.", failure: USPFailure(code: .invalidPath, message: "Invalid path")),
            ])))

    static let getInstances = USPMessage.getInstances(id: "gi-1", objectPaths: ["Device.WiFi.SSID."], firstLevelOnly: true)

    static let getInstancesResponse = USPMessage(
        id: "gi-1",
        response: .getInstancesResponse(
            USPGetInstancesResponse(results: [
                .init(
                    requestedPath: "Device.WiFi.SSID.",
                    instances: [
                        .init(path: "Device.WiFi.SSID.1.", uniqueKeys: ["Alias": "cpe-1", "Name": "wl0"]),
                        .init(path: "Device.WiFi.SSID.2.", uniqueKeys: ["Alias": "cpe-2", "Name": "wl1"]),
                    ]),
                .init(requestedPath: "Device.DeviceInfo.", failure: USPFailure(code: .notATable, message: "Object is not a table")),
            ])))

    static let getSupportedProtocol = USPMessage.getSupportedProtocol(id: "gsp-1")

    static let getSupportedProtocolResponse = USPMessage(
        id: "gsp-1",
        response: .getSupportedProtocolResponse(USPGetSupportedProtocolResponse(agentSupportedVersions: ["1.0", "1.1", "1.2", "1.3"])))

    static let notifyEvent = USPMessage(
        id: "notify-boot",
        request: .notify(
            USPNotify(
                subscriptionID: "boot", sendResponse: true,
                notification: .event(
                    .init(
                        objectPath: "Device.", eventName: "Boot!",
                        parameters: [
                            "Cause": "LocalReboot", "CommandKey": "", "FirmwareUpdated": "false",
                            "ParameterMap": "{\"Device.DeviceInfo.SoftwareVersion\":\"1.2.3\"}",
                        ])))))

    static let notifyValueChange = USPMessage(
        id: "notify-vc",
        request: .notify(
            USPNotify(
                subscriptionID: "vc-1", sendResponse: false,
                notification: .valueChange(.init(parameterPath: "Device.DeviceInfo.FriendlyName", value: "Living room")))))

    static let notifyObjectCreation = USPMessage(
        id: "notify-oc",
        request: .notify(
            USPNotify(
                subscriptionID: "assoc", sendResponse: true,
                notification: .objectCreation(
                    .init(objectPath: "Device.WiFi.AccessPoint.1.AssociatedDevice.3.", uniqueKeys: ["MACAddress": "02:00:00:00:00:03"])))))

    static let notifyObjectDeletion = USPMessage(
        id: "notify-od",
        request: .notify(
            USPNotify(
                subscriptionID: "assoc", sendResponse: true,
                notification: .objectDeletion(objectPath: "Device.WiFi.AccessPoint.1.AssociatedDevice.3."))))

    static let notifyOperationComplete = USPMessage(
        id: "notify-fw",
        request: .notify(
            USPNotify(
                subscriptionID: "opcomplete", sendResponse: true,
                notification: .operationComplete(
                    .init(
                        objectPath: "Device.DeviceInfo.FirmwareImage.2.", commandName: "Download()", commandKey: "fw-2026",
                        outcome: .outputArguments([:]))))))

    static let notifyOperationFailure = USPMessage(
        id: "notify-fw-2",
        request: .notify(
            USPNotify(
                subscriptionID: "opcomplete", sendResponse: true,
                notification: .operationComplete(
                    .init(
                        objectPath: "Device.DeviceInfo.FirmwareImage.2.", commandName: "Download()", commandKey: "fw-2027",
                        outcome: .failure(USPFailure(code: .commandFailure, message: "Download failed: HTTP 404")))))))

    static let notifyOnBoardRequest = USPMessage(
        id: "onboard-1",
        request: .notify(
            USPNotify(
                subscriptionID: "", sendResponse: true,
                notification: .onBoardRequest(
                    .init(oui: "00D09E", productClass: "HG8245", serialNumber: "0123456789", agentSupportedVersions: ["1.3"])))))

    static let notifyResponse = USPMessage(id: "notify-boot", response: .notifyResponse(USPNotifyResponse(subscriptionID: "boot")))

    static let register = USPMessage(
        id: "reg-1", request: .register(USPRegister(allowPartial: true, paths: ["Device.Time.", "Device.WiFi.DataElements."])))

    static let registerResponse = USPMessage.registerResponse(
        id: "reg-1",
        results: [
            .init(requestedPath: "Device.Time.", status: .success(registeredPath: "Device.Time.")),
            .init(requestedPath: "Device.WiFi.DataElements.", status: .failure(USPFailure(code: .alreadyInUse, message: "Already in use"))),
        ])

    static let deregister = USPMessage(
        id: "dereg-1", request: .deregister(USPDeregister(paths: ["Device.Time.", "Device.WiFi.DataElements."])))

    static let deregisterResponse = USPMessage.deregisterResponse(
        id: "dereg-1",
        results: [
            .init(requestedPath: "Device.Time.", status: .success(deregisteredPaths: ["Device.Time."])),
            .init(
                requestedPath: "Device.WiFi.DataElements.",
                status: .failure(USPFailure(code: .deregisterFailure, message: "Deregister failure"))),
        ])

    static let error = USPMessage.error(
        id: "set-2", code: .invalidArguments, message: "Invalid arguments",
        parameterErrors: [
            USPPathError(path: "Device.WiFi.SSID.1.SSID", code: .invalidValue, message: "Value too long"),
            USPPathError(path: "Device.WiFi.SSID.1.Status", code: .notWritable, message: "Parameter is read-only"),
        ])
}

/// What each record fixture must decode to (payloads read from the message fixtures they embed).
enum ExpectedRecords {
    static func all() throws -> [(String, USPRecord)] {
        let segmented = try Fixture.bytes("msg-get-resp")
        func segment(_ index: Int) -> USPRecord {
            let bounds = [0, 100, 200, segmented.count]
            let state: USPRecord.SARState = [.begin, .inProcess, .complete][index - 1]
            return USPRecord(
                version: "1.4", toID: controllerID, fromID: agentID,
                kind: .sessionContext(
                    .init(
                        sessionID: 99, sequenceID: UInt64(index), expectedID: 1, payloadSARState: state, payloadrecSARState: state,
                        payload: [Array(segmented[bounds[index - 1]..<bounds[index]])])))
        }
        func fromAgent(version: String = "1.3", _ kind: USPRecord.Kind) -> USPRecord {
            USPRecord(version: version, toID: controllerID, fromID: agentID, kind: kind)
        }
        return [
            (
                "record-no-session-context",
                USPRecord(version: "1.4", toID: agentID, fromID: controllerID, kind: .noSessionContext(payload: try Fixture.bytes("msg-get")))
            ),
            (
                "record-session-context",
                fromAgent(
                    .sessionContext(
                        .init(
                            sessionID: 4242, sequenceID: 7, expectedID: 3, retransmitID: 2,
                            payload: [try Fixture.bytes("msg-notify-value-change")])))
            ),
            ("record-websocket-connect", fromAgent(.webSocketConnect)),
            ("record-mqtt-connect", fromAgent(.mqttConnect(version: .v5, subscribedTopic: "usp/agent/os::00D09E-0123456789"))),
            ("record-mqtt-connect-v3", fromAgent(version: "1.2", .mqttConnect(version: .v3_1_1, subscribedTopic: "usp/agent/0123456789"))),
            ("record-stomp-connect", fromAgent(.stompConnect(version: .v1_2, subscribedDestination: "/queue/agent-0123456789"))),
            ("record-disconnect", fromAgent(.disconnect(reason: "Session Context terminated", reasonCode: .sessionContextTerminated))),
            ("record-uds-connect", fromAgent(.udsConnect)),
            ("record-segment-1", segment(1)),
            ("record-segment-2", segment(2)),
            ("record-segment-3", segment(3)),
        ]
    }
}
