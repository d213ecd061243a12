import CWMP
import Testing
import TandemCore

/// Messages a CPE sends, decoded from the fixtures by the ACS side.
@Suite struct DecoderInformTests {
    @Test func bootInformCarriesEveryField() throws {
        let envelope = try Fixtures.decode("cpe-inform-boot.xml")
        #expect(envelope.cwmpID == "1a2b3c")
        #expect(envelope.namespace == .v1_0)
        #expect(envelope.holdRequests == nil)
        #expect(envelope.warnings.isEmpty)
        let inform = try envelope.requireInform()
        #expect(inform.deviceID.manufacturer == "Acme Networks")
        #expect(inform.deviceID.oui == "00D09E")
        #expect(inform.deviceID.productClass == "HG8245")
        #expect(inform.deviceID.serialNumber == "4857544312345678")
        #expect(inform.events == [CWMPEvent(code: .boot), CWMPEvent(code: .mReboot, commandKey: "reboot-42")])
        #expect(inform.has(.boot))
        #expect(!inform.has(.bootstrap))
        #expect(inform.maxEnvelopes == 1)
        #expect(inform.currentTime.text == "2024-05-17T10:15:30.123+02:00")
        #expect(inform.currentTime.value?.zone == .offset(minutes: 120))
        #expect(inform.retryCount == 0)
        #expect(inform.parameters.count == 7)
        #expect(inform.value(of: "Device.RootDataModelVersion") == .string("2.15"))
        #expect(inform.value(of: "Device.DeviceInfo.ProvisioningCode") == .string(""))
        #expect(inform.value(of: "Device.ManagementServer.ConnectionRequestURL") == .string("http://192.0.2.10:7547/cr?a=1&b=2"))
        #expect(inform.value(of: "Device.DeviceInfo.UpTime") == .unsignedInt(86400))
        #expect(inform.dataModelRoot == "Device")
    }

    @Test func periodicInformFromAnIGDInNamespace11() throws {
        let envelope = try Fixtures.decode("cpe-inform-periodic-igd-1-1.xml")
        #expect(envelope.namespace == .v1_1)
        #expect(envelope.cwmpID == "4242")
        let inform = try envelope.requireInform()
        #expect(inform.deviceID.canonical == "001349-VMG3925-S162Y12345678")
        #expect(inform.events.map(\.code) == [.periodic])
        #expect(inform.retryCount == 3)
        #expect(inform.dataModelRoot == "InternetGatewayDevice")
        #expect(inform.value(of: "InternetGatewayDevice.ManagementServer.PeriodicInformEnable") == .boolean(true))
        #expect(inform.value(of: "InternetGatewayDevice.DeviceSummary") == .string("InternetGatewayDevice:1.4[](Baseline:1, EthernetLAN:1)"))
    }

    @Test func cwmp14HeadersInNamespace12() throws {
        let envelope = try Fixtures.decode("cpe-inform-1-2-session-timeout.xml")
        #expect(envelope.namespace == .v1_2)
        #expect(envelope.sessionTimeout == 60)
        #expect(envelope.supportedCWMPVersions == ["1.0", "1.1", "1.2", "1.3", "1.4"])
        let inform = try envelope.requireInform()
        #expect(inform.deviceID.productClass == "")
        #expect(inform.deviceID.canonical == "A0B1C2-SN0001")
        #expect(inform.events.map(\.code) == [.bootstrap, .boot])
        #expect(inform.value(of: "Device.ManagementServer.AliasBasedAddressing") == .boolean(false))
    }

    @Test(arguments: [
        ("cpe-inform-1-3-unofficial.xml", "urn:dslforum-org:cwmp-1-3", 3, "13"),
        ("cpe-inform-1-4-unofficial.xml", "urn:dslforum-org:cwmp-1-4", 4, "14"),
    ])
    func unofficialNamespacesAreAccepted(name: String, uri: String, minor: Int, id: String) throws {
        let envelope = try Fixtures.decode(name)
        #expect(envelope.namespace.rawValue == uri)
        #expect(envelope.namespace.minorVersion == minor)
        #expect(!envelope.namespace.isDefined)
        #expect(envelope.cwmpID == id)
        let inform = try envelope.requireInform()
        #expect(inform.events.map(\.code) == [.connectionRequest])
        #expect(inform.value(of: "Device.DeviceInfo.SoftwareVersion") == .string("1.2.3"))
    }

    @Test func everyValueTypeDecodes() throws {
        let envelope = try Fixtures.decode("cpe-inform-typed-values.xml")
        let inform = try envelope.requireInform()
        #expect(inform.value(of: "Device.X.String") == .string("a <b> & \"c\""))
        #expect(inform.value(of: "Device.X.Int") == .int(-42))
        #expect(inform.value(of: "Device.X.UnsignedInt") == .unsignedInt(4_294_967_295))
        #expect(inform.value(of: "Device.X.Long") == .long(-9_000_000_000))
        #expect(inform.value(of: "Device.X.UnsignedLong") == .unsignedLong(18_446_744_073_709_551_615))
        #expect(inform.value(of: "Device.X.Boolean") == .boolean(true))
        #expect(inform.value(of: "Device.X.DateTime") == .dateTime(.unknown))
        #expect(inform.value(of: "Device.X.Base64") == .base64(Array("Hello".utf8)))
        #expect(inform.value(of: "Device.X.HexBinary") == .hexBinary([0x00, 0xFF, 0x10]))
        #expect(inform.value(of: "Device.X.Decimal") == .decimal(try DecimalValue(parsing: "-1.50")))
        // A value that does not fit its declared type is kept, as a string, with a warning.
        #expect(inform.value(of: "Device.X.BadInt") == .string("not-a-number"))
        #expect(envelope.warnings == [.valueKeptAsString(parameter: "Device.X.BadInt", declaredType: "xsd:int")])
    }
}

@Suite struct DecoderCPERequestTests {
    @Test func transferCompleteSuccess() throws {
        let request = try Fixtures.decode("cpe-transfer-complete.xml").requireCPERequest()
        guard case .transferComplete(let complete) = request else { throw UnexpectedBody(body: .cpeRequest(request), expected: "TransferComplete") }
        #expect(complete.commandKey == "fw-2024-05")
        #expect(complete.fault.isSuccess)
        #expect(complete.startTime.value == dateTime("2024-05-17T08:01:00Z"))
        #expect(complete.completeTime.text == "2024-05-17T08:03:30Z")
    }

    @Test func transferCompleteWithFault() throws {
        let request = try Fixtures.decode("cpe-transfer-complete-fault.xml").requireCPERequest()
        guard case .transferComplete(let complete) = request else { throw UnexpectedBody(body: .cpeRequest(request), expected: "TransferComplete") }
        #expect(complete.fault.code == .fileCorrupted)
        #expect(!complete.fault.isSuccess)
        #expect(complete.fault.message == "Image signature check failed")
        #expect(complete.startTime.value?.isUnknown == true)
    }

    @Test func autonomousTransferComplete() throws {
        let request = try Fixtures.decode("cpe-autonomous-transfer-complete.xml").requireCPERequest()
        guard case .autonomousTransferComplete(let complete) = request else {
            throw UnexpectedBody(body: .cpeRequest(request), expected: "AutonomousTransferComplete")
        }
        #expect(complete.announceURL == "http://announce.example.net/fw")
        #expect(complete.transferURL == "http://files.example.net/fw/image-5.2.bin")
        #expect(complete.isDownload)
        #expect(complete.fileType == "1 Firmware Upgrade Image")
        #expect(complete.fileSize == 16_777_216)
        #expect(complete.targetFileName == "image-5.2.bin")
        #expect(complete.fault == .success)
    }

    @Test func getRPCMethodsFromACPEIsACPERequest() throws {
        let envelope = try Fixtures.decode("cpe-get-rpc-methods.xml")
        #expect(envelope.body == .cpeRequest(.getRPCMethods))
        #expect(envelope.cwmpID == "grm-cpe")
    }

    @Test func requestDownload() throws {
        let request = try Fixtures.decode("cpe-request-download.xml").requireCPERequest()
        #expect(request == .requestDownload(CPERequest.RequestDownload(
            fileType: "3 Vendor Configuration File",
            fileTypeArguments: [.init(name: "Version", value: "7"), .init(name: "Profile", value: "residential & business")])))
    }

    @Test func duStateChangeComplete() throws {
        let request = try Fixtures.decode("cpe-du-state-change-complete.xml").requireCPERequest()
        guard case .duStateChangeComplete(let complete) = request else {
            throw UnexpectedBody(body: .cpeRequest(request), expected: "DUStateChangeComplete")
        }
        #expect(complete.commandKey == "du-batch-3")
        #expect(complete.results.count == 2)
        #expect(complete.results[0].uuid == "0b4a5d2e-6f3c-4e1a-9b7d-1c2d3e4f5a6b")
        #expect(complete.results[0].deploymentUnitRef == "Device.SoftwareModules.DeploymentUnit.1")
        #expect(complete.results[0].currentState == "Installed")
        #expect(complete.results[0].resolved)
        #expect(complete.results[0].fault.isSuccess)
        #expect(complete.results[0].operationPerformed == nil)
        #expect(complete.results[1].currentState == "Failed")
        #expect(!complete.results[1].resolved)
        #expect(complete.results[1].fault == CWMPTransferFault(code: .downloadIncomplete, message: "Download incomplete"))
    }

    @Test func autonomousDUStateChangeComplete() throws {
        let request = try Fixtures.decode("cpe-autonomous-du-state-change-complete.xml").requireCPERequest()
        guard case .autonomousDUStateChangeComplete(let complete) = request else {
            throw UnexpectedBody(body: .cpeRequest(request), expected: "AutonomousDUStateChangeComplete")
        }
        #expect(complete.results.count == 1)
        #expect(complete.results[0].operationPerformed == "Uninstall")
        #expect(complete.results[0].currentState == "Uninstalled")
        #expect(complete.results[0].version == "2.1")
    }

    @Test func kicked() throws {
        let request = try Fixtures.decode("cpe-kicked.xml").requireCPERequest()
        #expect(request == .kicked(CPERequest.Kicked(
            command: "activate", referer: "http://portal.example.net/start", argument: "plan=gold&user=42",
            next: "http://portal.example.net/done")))
    }

    @Test func unknownMethodIsReportedByName() throws {
        let envelope = try Fixtures.decode("cpe-unknown-method.xml")
        #expect(envelope.body == .unknownMethod("X_ACME_Heartbeat"))
        #expect(envelope.cwmpID == "x-1")
    }

    @Test(arguments: [
        ("cpe-inform-boot.xml", "Inform"), ("cpe-transfer-complete.xml", "TransferComplete"),
        ("cpe-autonomous-transfer-complete.xml", "AutonomousTransferComplete"), ("cpe-get-rpc-methods.xml", "GetRPCMethods"),
        ("cpe-request-download.xml", "RequestDownload"), ("cpe-du-state-change-complete.xml", "DUStateChangeComplete"),
        ("cpe-autonomous-du-state-change-complete.xml", "AutonomousDUStateChangeComplete"), ("cpe-kicked.xml", "Kicked"),
    ])
    func everyCPERequestDecodesAsARequest(name: String, method: String) throws {
        let request = try Fixtures.decode(name).requireCPERequest()
        #expect(request.methodName == method)
        #expect(CPERequest.methodNames.contains(method))
    }
}

@Suite struct DecoderCPEResponseTests {
    func response(_ name: String) throws -> CPEResponse { try Fixtures.decode(name).requireCPEResponse() }

    @Test func getRPCMethodsResponse() throws {
        guard case .getRPCMethods(let methods) = try response("cpe-get-rpc-methods-response.xml") else { Issue.record("wrong case"); return }
        #expect(methods.count == 13)
        #expect(methods.first == "GetRPCMethods")
        #expect(methods.contains("ScheduleInform"))
    }

    @Test func getParameterNamesResponse() throws {
        #expect(try response("cpe-get-parameter-names-response.xml") == .getParameterNames(parameters: [
            CWMPParameterInfo(name: "Device.WiFi.SSID.", writable: false),
            CWMPParameterInfo(name: "Device.WiFi.SSIDNumberOfEntries", writable: false),
            CWMPParameterInfo(name: "Device.WiFi.Radio.", writable: true),
        ]))
    }

    @Test func getParameterValuesResponseKeepsTypes() throws {
        #expect(try response("cpe-get-parameter-values-response.xml") == .getParameterValues(parameters: [
            CWMPParameterValue(name: "Device.DeviceInfo.SoftwareVersion", value: .string("V5R019C10S125")),
            CWMPParameterValue(name: "Device.WiFi.SSID.1.SSID", value: .string("Home & Garden")),
            CWMPParameterValue(name: "Device.IP.Interface.1.Enable", value: .boolean(true)),
            CWMPParameterValue(name: "Device.IP.Interface.1.LastChange", value: .unsignedInt(123_456)),
        ]))
    }

    @Test func statusResponses() throws {
        #expect(try response("cpe-set-parameter-values-response.xml") == .setParameterValues(status: 1))
        #expect(try response("cpe-add-object-response.xml") == .addObject(instanceNumber: 3, status: 0))
        #expect(try response("cpe-delete-object-response.xml") == .deleteObject(status: 0))
    }

    @Test func getParameterAttributesResponse() throws {
        #expect(try response("cpe-get-parameter-attributes-response.xml") == .getParameterAttributes(parameters: [
            CWMPParameterAttribute(name: "Device.DeviceInfo.SoftwareVersion", notification: 2, accessList: []),
            CWMPParameterAttribute(name: "Device.ManagementServer.URL", notification: 0, accessList: ["Subscriber"]),
        ]))
    }

    @Test func transferResponses() throws {
        let download = try response("cpe-download-response.xml")
        guard case .download(let status) = download else { Issue.record("wrong case \(download)"); return }
        #expect(status.status == 1)
        #expect(status.completesLater)
        #expect(status.startTime.value?.isUnknown == true)
        let upload = try response("cpe-upload-response.xml")
        #expect(upload == .upload(CPEResponse.TransferStatus(
            status: 0, startTime: CWMPTime(text: "2024-05-17T08:20:00Z"), completeTime: CWMPTime(text: "2024-05-17T08:20:03Z"))))
    }

    @Test(arguments: [
        ("cpe-set-parameter-attributes-response.xml", CPEResponse.setParameterAttributes),
        ("cpe-reboot-response.xml", .reboot), ("cpe-factory-reset-response.xml", .factoryReset),
        ("cpe-schedule-inform-response.xml", .scheduleInform), ("cpe-schedule-download-response.xml", .scheduleDownload),
        ("cpe-cancel-transfer-response.xml", .cancelTransfer), ("cpe-change-du-state-response.xml", .changeDUState),
        ("cpe-set-vouchers-response.xml", .setVouchers),
    ])
    func emptyResponses(name: String, expected: CPEResponse) throws {
        #expect(try response(name) == expected)
    }

    @Test func queuedTransfers() throws {
        #expect(try response("cpe-get-queued-transfers-response.xml") == .getQueuedTransfers(transfers: [
            .init(commandKey: "fw-2024-05", state: 2), .init(commandKey: "night-fw", state: 1),
        ]))
        #expect(try response("cpe-get-all-queued-transfers-response.xml") == .getAllQueuedTransfers(transfers: [
            .init(commandKey: "night-fw", state: 1, isDownload: true, fileType: "1 Firmware Upgrade Image", fileSize: 0, targetFileName: "")
        ]))
    }

    @Test func options() throws {
        let options = try response("cpe-get-options-response.xml")
        guard case .getOptions(let list) = options else { Issue.record("wrong case \(options)"); return }
        #expect(list.count == 1)
        #expect(list[0].optionName == "X_PREMIUM")
        #expect(list[0].voucherSN == 1001)
        #expect(list[0].state == 1)
        #expect(list[0].mode == 1)
        #expect(list[0].startDate.text == "2024-01-01T00:00:00Z")
        #expect(list[0].expirationDate?.text == "2025-01-01T00:00:00Z")
        #expect(list[0].isTransferable == 0)
    }
}

@Suite struct DecoderFaultTests {
    @Test func setParameterValuesFaultListsEveryParameter() throws {
        let envelope = try Fixtures.decode("cpe-fault-set-parameter-values.xml")
        #expect(envelope.cwmpID == "tandem-4")
        let fault = try envelope.requireFault()
        #expect(fault.code == .invalidArguments)
        #expect(fault.message == "Invalid arguments")
        #expect(fault.soapFaultCode == "Client")
        #expect(fault.soapFaultString == "CWMP fault")
        #expect(fault.parameterFaults == [
            .init(parameterName: "Device.WiFi.SSID.1.SSID", code: .invalidParameterValue, message: "String too long"),
            .init(parameterName: "Device.DeviceInfo.SoftwareVersion", code: .notWritable, message: "Parameter is read-only"),
        ])
        #expect(fault.fault.category == .invalidArguments)
    }

    @Test func prefixedSOAPFaultCodeIsReducedToItsLocalName() throws {
        let fault = try Fixtures.decode("cpe-fault-invalid-name.xml").requireFault()
        #expect(fault.code == .invalidParameterName)
        #expect(fault.soapFaultCode == "Client")
        #expect(fault.parameterFaults.isEmpty)
        #expect(fault.fault.category == .invalidPath)
    }

    @Test func vendorFault() throws {
        let fault = try Fixtures.decode("cpe-fault-vendor.xml").requireFault()
        #expect(fault.code.rawValue == 9801)
        #expect(fault.code.isVendor)
        #expect(fault.code.isCPEFault)
        #expect(fault.message == "Vendor: flash busy")
    }

    @Test func soapFaultWithoutCWMPDetailBecomesAnInternalError() throws {
        let envelope = try Fixtures.decode("cpe-fault-no-detail.xml")
        let fault = try envelope.requireFault()
        #expect(fault.code == .internalError)
        #expect(fault.message == "Internal SOAP stack error")
        #expect(fault.soapFaultCode == "Server")
        #expect(envelope.warnings == [.faultWithoutDetail])
    }

    @Test func acsRetryFault() throws {
        let fault = try Fixtures.decode("acs-fault-8005-retry.xml").requireFault()
        #expect(fault.code == .acsRetryRequest)
        #expect(fault.code.isACSFault)
        #expect(fault.soapFaultCode == "Server")
    }
}
