import CWMP
import Testing
import TandemCore

/// Messages an ACS sends, decoded as a CPE (simulator) would.
@Suite struct DecoderACSRequestTests {
    func request(_ name: String) throws -> ACSRequest { try Fixtures.decode(name).requireACSRequest() }

    @Test func getRPCMethodsFromAnACSIsAnACSRequest() throws {
        let envelope = try Fixtures.decode("acs-get-rpc-methods.xml")
        #expect(envelope.body == .acsRequest(.getRPCMethods))
        #expect(envelope.cwmpID == "tandem-1")
    }

    @Test func parameterRequests() throws {
        #expect(try request("acs-get-parameter-names.xml") == .getParameterNames(path: "Device.WiFi.", nextLevel: true))
        #expect(try request("acs-get-parameter-values.xml") == .getParameterValues(names: [
            "Device.DeviceInfo.SoftwareVersion", "Device.WiFi.SSID.1.SSID", "Device.IP.Interface.",
        ]))
        #expect(try request("acs-get-parameter-attributes.xml") == .getParameterAttributes(names: [
            "Device.DeviceInfo.SoftwareVersion", "Device.ManagementServer.",
        ]))
    }

    @Test func setParameterValuesWithTypedValuesAndCharacterReferences() throws {
        #expect(try request("acs-set-parameter-values.xml") == .setParameterValues(
            parameters: [
                CWMPParameterValue(name: "Device.WiFi.SSID.1.SSID", value: .string("Café & Bar")),
                CWMPParameterValue(name: "Device.WiFi.Radio.1.Enable", value: .boolean(true)),
                CWMPParameterValue(name: "Device.ManagementServer.PeriodicInformInterval", value: .unsignedInt(3600)),
            ], parameterKey: "set-2024-05-17"))
    }

    @Test func setParameterAttributes() throws {
        #expect(try request("acs-set-parameter-attributes.xml") == .setParameterAttributes(parameters: [
            CWMPSetParameterAttribute(name: "Device.DeviceInfo.SoftwareVersion", notificationChange: true, notification: 2),
            CWMPSetParameterAttribute(
                name: "Device.WiFi.SSID.1.SSID", notificationChange: false, notification: 0, accessListChange: true, accessList: ["Subscriber"]),
        ]))
    }

    @Test func objectsAndSimpleCommands() throws {
        #expect(try request("acs-add-object.xml") == .addObject(objectName: "Device.NAT.PortMapping.", parameterKey: "add-1"))
        #expect(try request("acs-delete-object.xml") == .deleteObject(objectName: "Device.NAT.PortMapping.3.", parameterKey: "del-1"))
        #expect(try request("acs-reboot.xml") == .reboot(commandKey: "reboot-42"))
        #expect(try request("acs-factory-reset.xml") == .factoryReset)
        #expect(try request("acs-schedule-inform.xml") == .scheduleInform(delaySeconds: 600, commandKey: "later"))
        #expect(try request("acs-cancel-transfer.xml") == .cancelTransfer(commandKey: "night-fw"))
        #expect(try request("acs-get-queued-transfers.xml") == .getQueuedTransfers)
        #expect(try request("acs-get-all-queued-transfers.xml") == .getAllQueuedTransfers)
        #expect(try request("acs-get-options.xml") == .getOptions(optionName: "X_PREMIUM"))
    }

    @Test func downloadAndUpload() throws {
        #expect(try request("acs-download.xml") == .download(ACSRequest.Download(
            commandKey: "fw-2024-05", fileType: "1 Firmware Upgrade Image", url: "https://files.example.net/fw/image-5.2.bin?token=a&b",
            username: "cpe", password: "s3cr<t", fileSize: 16_777_216, targetFileName: "image-5.2.bin")))
        #expect(try request("acs-upload.xml") == .upload(ACSRequest.Upload(
            commandKey: "backup-1", fileType: "1 Vendor Configuration File", url: "https://files.example.net/upload/cfg", delaySeconds: 30)))
    }

    @Test func scheduleDownloadWithTwoWindows() throws {
        #expect(try request("acs-schedule-download.xml") == .scheduleDownload(ACSRequest.ScheduleDownload(
            commandKey: "night-fw", fileType: "1 Firmware Upgrade Image", url: "https://files.example.net/fw/image-5.3.bin",
            timeWindows: [
                .init(windowStart: 3600, windowEnd: 7200, windowMode: "3 When Idle", userMessage: "", maxRetries: -1),
                .init(windowStart: 86400, windowEnd: 90000, windowMode: "4 Confirmation Needed", userMessage: "A firmware update is ready", maxRetries: 3),
            ])))
    }

    @Test func changeDUStateUsesXsiTypeForEachOperation() throws {
        #expect(try request("acs-change-du-state.xml") == .changeDUState(ACSRequest.ChangeDUState(
            operations: [
                .install(
                    url: "https://apps.example.net/du/speedtest-1.0.ipk", uuid: "0b4a5d2e-6f3c-4e1a-9b7d-1c2d3e4f5a6b",
                    executionEnvRef: "Device.SoftwareModules.ExecEnv.1"),
                .update(uuid: "11111111-2222-4333-8444-555555555555", version: "2.2", url: "https://apps.example.net/du/other-2.2.ipk"),
                .uninstall(uuid: "7e1f0000-0000-4000-8000-000000000002", version: "0.9"),
            ], commandKey: "du-batch-3")))
    }

    @Test func setVouchersDecodesBase64AcrossLineBreaks() throws {
        #expect(try request("acs-set-vouchers.xml") == .setVouchers(vouchers: [[1, 2, 3, 4], Array("Hello, World".utf8)]))
    }
}

@Suite struct DecoderACSResponseTests {
    @Test func informResponse() throws {
        let envelope = try Fixtures.decode("acs-inform-response.xml")
        #expect(envelope.body == .acsResponse(.inform(maxEnvelopes: 1)))
        #expect(envelope.cwmpID == "1a2b3c")
    }

    @Test func informResponseWithCWMP14Headers() throws {
        let envelope = try Fixtures.decode("acs-inform-response-1-4.xml")
        #expect(envelope.namespace == .v1_2)
        #expect(envelope.holdRequests == true)
        #expect(envelope.useCWMPVersion == "1.4")
        #expect(envelope.cwmpID == "inform-77")
    }

    @Test(arguments: [
        ("acs-transfer-complete-response.xml", ACSResponse.transferComplete),
        ("acs-autonomous-transfer-complete-response.xml", .autonomousTransferComplete),
        ("acs-request-download-response.xml", .requestDownload),
        ("acs-du-state-change-complete-response.xml", .duStateChangeComplete),
        ("acs-autonomous-du-state-change-complete-response.xml", .autonomousDUStateChangeComplete),
        ("acs-kicked-response.xml", .kicked(nextURL: "http://portal.example.net/welcome")),
        ("acs-get-rpc-methods-response.xml", .getRPCMethods(methods: ["Inform", "GetRPCMethods", "TransferComplete", "AutonomousTransferComplete"])),
    ])
    func responses(name: String, expected: ACSResponse) throws {
        #expect(try Fixtures.decode(name).requireACSResponse() == expected)
    }

    @Test func senderDecidesWhatAMessageMeans() throws {
        // A CPE never sends an InformResponse; decoded as a CPE message it is an unknown method.
        let bytes = try Fixtures.bytes("acs-inform-response.xml")
        #expect(try CWMPDecoder().decode(bytes, from: .cpe).body == .unknownMethod("InformResponse"))
        // GetRPCMethods exists in both directions.
        let request = try Fixtures.bytes("cpe-get-rpc-methods.xml")
        #expect(try CWMPDecoder().decode(request, from: .cpe).body == .cpeRequest(.getRPCMethods))
        #expect(try CWMPDecoder().decode(request, from: .acs).body == .acsRequest(.getRPCMethods))
    }
}
