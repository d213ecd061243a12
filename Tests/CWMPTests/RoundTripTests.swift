import CWMP
import Testing
import TandemCore

/// decode(encode(x)) == x, for every fixture and for one envelope of every RPC.
@Suite struct RoundTripTests {
    /// Header and body, without the decode warnings (which describe the original text only).
    static func essence(_ envelope: CWMPEnvelope) -> CWMPEnvelope {
        var copy = envelope
        copy.warnings = []
        return copy
    }

    @Test(arguments: Fixtures.messages)
    func everyFixtureSurvivesEncodeAndDecode(_ name: String) throws {
        let sender = Fixtures.sender(of: name)
        let decoded = try Fixtures.decode(name)
        let encoded = CWMPEncoder().encode(decoded)
        let again = try CWMPDecoder().decode(encoded, from: sender)
        #expect(Self.essence(again) == Self.essence(decoded))
        // Encoder output needs no leniency; only a dateTime the CPE mangled stays mangled.
        #expect(again.warnings.allSatisfy { if case .malformedDateTime = $0 { true } else { false } }, "\(again.warnings)")
        // Encoding is stable.
        #expect(CWMPEncoder().encode(again) == encoded)
    }

    static let time = CWMPTime(text: "2024-05-17T08:00:00.250Z")

    static let sampleBodies: [CWMPBody] = {
        let device = try! CWMPDeviceID(manufacturer: "Acme & Sons", oui: "00D09E", productClass: "HG<8245>", serialNumber: "SN\"1'")
        let values: [CWMPParameterValue] = [
            .init(name: "Device.A.String", value: .string("tab\there, cr\r\nlf, <&>\"' ünï 🚀")),
            .init(name: "Device.A.Int", value: .int(-7)),
            .init(name: "Device.A.UInt", value: .unsignedInt(7)),
            .init(name: "Device.A.Long", value: .long(.min)),
            .init(name: "Device.A.ULong", value: .unsignedLong(.max)),
            .init(name: "Device.A.Bool", value: .boolean(false)),
            .init(name: "Device.A.Time", value: .dateTime(dateTime("2024-05-17T08:00:00.5+05:30"))),
            .init(name: "Device.A.Base64", value: .base64([0, 1, 2, 250, 255])),
            .init(name: "Device.A.Hex", value: .hexBinary([0xDE, 0xAD])),
            .init(name: "Device.A.Decimal", value: .decimal(try! DecimalValue(parsing: "3.140"))),
            .init(name: "Device.A.Empty", value: .string("")),
            .init(name: "Device.A.Spaces", value: .string("  padded  ")),
        ]
        let result = CPERequest.DUOperationResult(
            uuid: "0b4a5d2e-6f3c-4e1a-9b7d-1c2d3e4f5a6b", deploymentUnitRef: "Device.SoftwareModules.DeploymentUnit.1", version: "1.0",
            currentState: "Installed", resolved: true, executionUnitRefList: "Device.SoftwareModules.ExecutionUnit.1,Device.SoftwareModules.ExecutionUnit.2",
            startTime: time, completeTime: time, fault: .init(code: .unknownExecutionEnvironment, message: "no EE"))
        var autonomous = result
        autonomous.operationPerformed = "Install"
        return [
            .cpeRequest(.inform(.init(
                deviceID: device, events: [.init(code: .boot), .init(code: .mScheduleInform, commandKey: "k&1")], maxEnvelopes: 1,
                currentTime: time, retryCount: 4, parameters: values))),
            .cpeRequest(.transferComplete(.init(commandKey: "ck", fault: .init(code: .fileTransferFailure, message: "timeout"), startTime: time, completeTime: .unknown))),
            .cpeRequest(.autonomousTransferComplete(.init(
                announceURL: "http://a/", transferURL: "http://t/?x=1&y=2", isDownload: false, fileType: "2 Vendor Log File", fileSize: 99,
                targetFileName: "log.txt", startTime: time, completeTime: time))),
            .cpeRequest(.getRPCMethods),
            .cpeRequest(.requestDownload(.init(fileType: "X 00D09E Special", fileTypeArguments: [.init(name: "a", value: "<b>")]))),
            .cpeRequest(.requestDownload(.init(fileType: "3 Vendor Configuration File"))),
            .cpeRequest(.duStateChangeComplete(.init(results: [result, result], commandKey: "du"))),
            .cpeRequest(.duStateChangeComplete(.init(results: [result]))),
            .cpeRequest(.autonomousDUStateChangeComplete(.init(results: [autonomous]))),
            .cpeRequest(.kicked(.init(command: "c", referer: "r", argument: "a&b", next: "n"))),
            .acsResponse(.inform(maxEnvelopes: 1)),
            .acsResponse(.transferComplete),
            .acsResponse(.autonomousTransferComplete),
            .acsResponse(.getRPCMethods(methods: ACSResponse.acsMethods)),
            .acsResponse(.requestDownload),
            .acsResponse(.duStateChangeComplete),
            .acsResponse(.autonomousDUStateChangeComplete),
            .acsResponse(.kicked(nextURL: "http://next/?a=1&b=2")),
            .acsRequest(.getRPCMethods),
            .acsRequest(.getParameterNames(path: "", nextLevel: true)),
            .acsRequest(.getParameterValues(names: ["Device.", "Device.DeviceInfo.SoftwareVersion"])),
            .acsRequest(.getParameterValues(names: [])),
            .acsRequest(.setParameterValues(parameters: values, parameterKey: "key <1>")),
            .acsRequest(.getParameterAttributes(names: ["Device.A."])),
            .acsRequest(.setParameterAttributes(parameters: [
                .notification("Device.A.String", 2),
                .init(name: "Device.A.Int", notificationChange: false, notification: 6, accessListChange: true, accessList: ["Subscriber"]),
            ])),
            .acsRequest(.addObject(objectName: "Device.NAT.PortMapping.", parameterKey: "")),
            .acsRequest(.deleteObject(objectName: "Device.NAT.PortMapping.2.", parameterKey: "d")),
            .acsRequest(.reboot(commandKey: "r")),
            .acsRequest(.factoryReset),
            .acsRequest(.download(.init(
                commandKey: "fw", fileType: "1 Firmware Upgrade Image", url: "https://f/i.bin", username: "u", password: "p&<",
                fileSize: 10, targetFileName: "i.bin", delaySeconds: 5, successURL: "https://ok", failureURL: "https://ko"))),
            .acsRequest(.upload(.init(commandKey: "up", fileType: "2 Vendor Log File", url: "https://u/", delaySeconds: 1))),
            .acsRequest(.scheduleInform(delaySeconds: 3600, commandKey: "s")),
            .acsRequest(.scheduleDownload(.init(
                commandKey: "sd", fileType: "1 Firmware Upgrade Image", url: "https://f/", timeWindows: [
                    .init(windowStart: 0, windowEnd: 60, windowMode: "2 Immediately", userMessage: "now", maxRetries: 0)
                ]))),
            .acsRequest(.cancelTransfer(commandKey: "sd")),
            .acsRequest(.changeDUState(.init(operations: [
                .install(url: "https://du/1", uuid: "", username: "u", password: "p", executionEnvRef: ""),
                .update(uuid: "u-1", version: "", url: "", username: "", password: ""),
                .update(uuid: "", version: "3", url: "https://du/3"),
                .uninstall(uuid: "u-2", version: "", executionEnvRef: "Device.SoftwareModules.ExecEnv.2"),
            ]))),
            .acsRequest(.getQueuedTransfers),
            .acsRequest(.getAllQueuedTransfers),
            .acsRequest(.setVouchers(vouchers: [[1, 2, 3], []])),
            .acsRequest(.getOptions(optionName: "")),
            .cpeResponse(.getRPCMethods(methods: ACSRequest.methodNames)),
            .cpeResponse(.getParameterNames(parameters: [.init(name: "Device.", writable: false), .init(name: "Device.X", writable: true)])),
            .cpeResponse(.getParameterValues(parameters: values)),
            .cpeResponse(.setParameterValues(status: 0)),
            .cpeResponse(.getParameterAttributes(parameters: [.init(name: "Device.X", notification: 1, accessList: ["Subscriber"])])),
            .cpeResponse(.setParameterAttributes),
            .cpeResponse(.addObject(instanceNumber: 4_294_967_295, status: 1)),
            .cpeResponse(.deleteObject(status: 1)),
            .cpeResponse(.reboot),
            .cpeResponse(.factoryReset),
            .cpeResponse(.download(.init(status: 0, startTime: time, completeTime: time))),
            .cpeResponse(.upload(.init(status: 1))),
            .cpeResponse(.scheduleInform),
            .cpeResponse(.scheduleDownload),
            .cpeResponse(.cancelTransfer),
            .cpeResponse(.changeDUState),
            .cpeResponse(.getQueuedTransfers(transfers: [.init(commandKey: "a", state: 3)])),
            .cpeResponse(.getAllQueuedTransfers(transfers: [.init(commandKey: "a", state: 2, isDownload: false, fileType: "1 Vendor Configuration File", fileSize: 7, targetFileName: "c")])),
            .cpeResponse(.setVouchers),
            .cpeResponse(.getOptions(options: [
                .init(optionName: "O", voucherSN: 1, state: 3, mode: 2, startDate: time),
                .init(optionName: "P", voucherSN: 2, state: 1, mode: 1, startDate: time, expirationDate: .unknown, isTransferable: 1),
            ])),
            .fault(CWMPFault(code: .acsMethodNotSupported)),
            .fault(CWMPFault(code: .invalidArguments, parameterFaults: [.init(parameterName: "Device.A.Int", code: .invalidParameterType)])),
            .fault(CWMPFault(code: CWMPFaultCode(9899), message: "vendor <x>")),
            .unknownMethod("X_ACME_Ping"),
        ]
    }()

    static func sender(of body: CWMPBody) -> CWMPDecoder.Sender {
        switch body {
        case .cpeRequest, .cpeResponse, .unknownMethod: .cpe
        case .acsRequest, .acsResponse: .acs
        case .fault(let fault): fault.code.isACSFault ? .acs : .cpe
        }
    }

    @Test(arguments: sampleBodies)
    func everyRPCRoundTrips(_ body: CWMPBody) throws {
        for options in [
            CWMPEncoder.Options(), CWMPEncoder.Options(xmlDeclaration: false, booleans: .digits),
        ] {
            let envelope = CWMPEnvelope(cwmpID: "id-\(body.methodName)", namespace: .v1_2, body: body)
            let encoded = CWMPEncoder(options: options).encode(envelope)
            let decoded = try CWMPDecoder().decode(encoded, from: Self.sender(of: body))
            #expect(decoded == envelope)
        }
    }

    @Test func everyRPCAndResponseHasAFixture() throws {
        var names = Set<String>()
        for name in Fixtures.messages { names.insert(try Fixtures.decode(name).body.methodName) }
        #expect(Fixtures.messages.count >= 75)
        for method in CPERequest.methodNames + ACSRequest.methodNames {
            #expect(names.contains(method), "no fixture for \(method)")
            #expect(names.contains(method + "Response"), "no fixture for \(method)Response")
        }
        #expect(names.contains("Fault"))
    }

    @Test func everyBodyCaseIsCovered() {
        let names = Set(Self.sampleBodies.map(\.methodName))
        for method in CPERequest.methodNames { #expect(names.contains(method), "\(method)") }
        for method in ACSRequest.methodNames {
            #expect(names.contains(method), "\(method)")
            #expect(names.contains(method + "Response"), "\(method)Response")
        }
        for method in CPERequest.methodNames { #expect(names.contains(method + "Response"), "\(method)Response") }
    }

    @Test func headersRoundTrip() throws {
        let envelope = CWMPEnvelope(
            cwmpID: "a&b", holdRequests: true, sessionTimeout: 45, supportedCWMPVersions: ["1.0", "1.4"], useCWMPVersion: "1.4",
            namespace: .v1_4, body: .acsResponse(.inform(maxEnvelopes: 1)))
        #expect(try CWMPDecoder().decode(CWMPEncoder().encode(envelope), from: .acs) == envelope)
        let bare = CWMPEnvelope(body: .cpeRequest(.getRPCMethods))
        #expect(try CWMPDecoder().decode(CWMPEncoder().encode(bare), from: .cpe) == bare)
    }

    @Test func textThatXMLCannotCarryIsReplacedNotDropped() throws {
        let envelope = CWMPEnvelope(body: .acsRequest(.reboot(commandKey: "a\u{1}b\u{FFFE}c\u{7}")))
        let decoded = try CWMPDecoder().decode(CWMPEncoder().encode(envelope), from: .acs)
        #expect(decoded.body == .acsRequest(.reboot(commandKey: "a\u{FFFD}b\u{FFFD}c\u{FFFD}")))
    }
}
