import CWMP
import Testing
import TandemCore

/// Real-device deviations the decoder tolerates (protocol digest A.11).
@Suite struct QuirkTests {
    @Test func missingHeaderTypesAndArrayTypesWithGeneratedPrefixes() throws {
        let envelope = try Fixtures.decode("cpe-inform-quirk-no-header-no-types.xml")
        #expect(envelope.cwmpID == nil)
        #expect(envelope.namespace == .v1_0)
        #expect(envelope.warnings.isEmpty)
        let inform = try envelope.requireInform()
        #expect(inform.deviceID.canonical == "001122-Router-T%2D1000")
        // No xsi:type: strings, never guessed.
        #expect(inform.value(of: "Device.DeviceInfo.SoftwareVersion") == .string("2.0.1"))
        #expect(inform.value(of: "Device.DeviceInfo.UpTime") == .string("42"))
    }

    @Test func emptyHeaderAndEmptyParameterList() throws {
        let envelope = try Fixtures.decode("cpe-inform-quirk-empty-header.xml")
        #expect(envelope.cwmpID == nil)
        let inform = try envelope.requireInform()
        #expect(inform.parameters.isEmpty)
        #expect(inform.events.map(\.code) == [.valueChange])
    }

    @Test func crlfSingleQuotesAndStrayWhitespace() throws {
        let bytes = try Fixtures.bytes("cpe-inform-quirk-crlf-single-quotes.xml")
        #expect(bytes.contains(0x0D), "the fixture must have CRLF line ends")
        let envelope = try Fixtures.decode("cpe-inform-quirk-crlf-single-quotes.xml")
        #expect(envelope.cwmpID == "crlf-1")
        let inform = try envelope.requireInform()
        #expect(inform.deviceID.manufacturer == "CRLF Corp")
        #expect(inform.deviceID.oui == "00D09E")
        #expect(inform.deviceID.productClass == "Gateway")
        #expect(inform.deviceID.serialNumber == "CR-0001")
        #expect(inform.events.map(\.code) == [.periodic])
        #expect(inform.maxEnvelopes == 1)
        #expect(inform.retryCount == 2)
        #expect(inform.currentTime.value == dateTime("2024-05-17T08:00:00Z"))
        #expect(inform.value(of: "Device.DeviceInfo.UpTime") == .unsignedInt(3600))
        // XML turns a literal CRLF inside text into LF (XML 1.0 section 2.11).
        #expect(inform.value(of: "Device.DeviceInfo.Description") == .string("line one\nline two"))
        #expect(envelope.warnings.isEmpty)
    }

    @Test func namespaces1999AndWrongOrZeroPaddedCounts() throws {
        let envelope = try Fixtures.decode("cpe-inform-quirk-1999-namespaces.xml")
        let inform = try envelope.requireInform()
        #expect(inform.value(of: "InternetGatewayDevice.DeviceInfo.UpTime") == .unsignedInt(120))
        #expect(inform.value(of: "InternetGatewayDevice.ManagementServer.PeriodicInformEnable") == .boolean(true))
        #expect(inform.events.count == 1)
        // `[0001]` matches its one element; `[5]` for two elements is noted, not refused.
        #expect(envelope.warnings == [.arrayCountMismatch(element: "ParameterList", declared: 5, actual: 2)])
    }

    @Test func zonelessCurrentTimeIsKept() throws {
        let envelope = try Fixtures.decode("cpe-inform-quirk-zoneless-time.xml")
        let inform = try envelope.requireInform()
        #expect(inform.currentTime.text == "2024-05-17T10:00:00")
        #expect(inform.currentTime.isZoneless)
        #expect(inform.currentTime.value?.hour == 10)
        #expect(envelope.warnings.isEmpty)
    }

    @Test func malformedCurrentTimeDoesNotFailTheInform() throws {
        let envelope = try Fixtures.decode("cpe-inform-quirk-malformed-time.xml")
        let inform = try envelope.requireInform()
        #expect(inform.currentTime.text == "Thu Jan  1 00:02:13 1970")
        #expect(inform.currentTime.value == nil)
        #expect(envelope.warnings == [.malformedDateTime(field: "CurrentTime", text: "Thu Jan  1 00:02:13 1970")])
        #expect(inform.deviceID.serialNumber == "0123456789")
    }

    @Test func lowerCaseOUIAndDuplicatedParameters() throws {
        let envelope = try Fixtures.decode("cpe-inform-quirk-lowercase-oui-duplicates.xml")
        let inform = try envelope.requireInform()
        #expect(inform.deviceID.oui == "00D09E")
        #expect(inform.deviceID.canonical == "00D09E-HG-abc123")
        // Last value wins, at the position of the first occurrence; each duplicate noted once.
        #expect(inform.parameters == [
            CWMPParameterValue(name: "Device.DeviceInfo.SoftwareVersion", value: .string("1.1")),
            CWMPParameterValue(name: "Device.WiFi.SSID.1.SSID", value: .string("new-ssid")),
        ])
        #expect(envelope.warnings == [
            .duplicateParameter("Device.DeviceInfo.SoftwareVersion"), .duplicateParameter("Device.WiFi.SSID.1.SSID"),
        ])
    }

    @Test func duplicatesInALongListUseTheHashedPath() throws {
        var parameters = (0..<100).map { CWMPParameterValue(name: "Device.X.P\($0)", value: .unsignedInt(UInt32($0))) }
        parameters.append(CWMPParameterValue(name: "Device.X.P7", value: .string("again")))
        let envelope = CWMPEnvelope(cwmpID: "long", body: .cpeResponse(.getParameterValues(parameters: parameters)))
        let decoded = try CWMPDecoder().decode(CWMPEncoder().encode(envelope), from: .cpe)
        guard case .cpeResponse(.getParameterValues(let list)) = decoded.body else { Issue.record("wrong body"); return }
        #expect(list.count == 100)
        #expect(list[7] == CWMPParameterValue(name: "Device.X.P7", value: .string("again")))
        #expect(decoded.warnings == [.duplicateParameter("Device.X.P7")])
    }

    @Test func obsoleteHeadersCWMPOnTheBodyAndCDATA() throws {
        let envelope = try Fixtures.decode("cpe-inform-quirk-old-headers.xml")
        #expect(envelope.cwmpID == "old-hdr")
        #expect(envelope.holdRequests == false)
        #expect(envelope.namespace == .v1_0)
        #expect(envelope.warnings == [.ignoredHeader("NoMoreRequests")])
        let inform = try envelope.requireInform()
        #expect(inform.value(of: "InternetGatewayDevice.DeviceInfo.SoftwareVersion") == .string("4.0 <beta>"))
    }

    @Test func declaredLatin1EncodingIsHonoured() throws {
        let inform = try Fixtures.decode("cpe-inform-quirk-latin1.xml").requireInform()
        #expect(inform.deviceID.manufacturer == "Société Générale")
        #expect(inform.value(of: "Device.DeviceInfo.Description") == .string("Boîte"))
    }

    @Test func contentTypeCharsetIsHonouredWithoutADeclaration() throws {
        let text = "<e:Envelope xmlns:e=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:c=\"urn:dslforum-org:cwmp-1-0\"><e:Body><c:Kicked><Command>caf\u{E9}</Command></c:Kicked></e:Body></e:Envelope>"
        let latin1 = text.unicodeScalars.map { UInt8($0.value) }
        let envelope = try CWMPDecoder().decode(latin1, from: .cpe, encoding: "ISO-8859-1")
        guard case .cpeRequest(.kicked(let kicked)) = envelope.body else { Issue.record("wrong body \(envelope.body)"); return }
        #expect(kicked.command == "café")
        // Without the charset the same bytes are not UTF-8.
        expectDecodingError(.malformedXML) { () throws(CWMPDecodingError) in try CWMPDecoder().decode(latin1, from: .cpe) }
    }

    @Test func argumentsInAnyOrderAndQualifiedArguments() throws {
        let text = """
            <s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:c="urn:dslforum-org:cwmp-1-2"><s:Body>
            <c:AddObjectResponse><c:Status>1</c:Status><c:InstanceNumber>12</c:InstanceNumber></c:AddObjectResponse>
            </s:Body></s:Envelope>
            """
        let envelope = try CWMPDecoder().decode(text, from: .cpe)
        #expect(envelope.body == .cpeResponse(.addObject(instanceNumber: 12, status: 1)))
        #expect(envelope.namespace == .v1_2)
    }

    @Test func booleanLiteralsInAnyCase() throws {
        for (literal, expected) in [("true", true), ("FALSE", false), ("1", true), (" 0 ", false), ("True", true)] {
            let text = """
                <s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:c="urn:dslforum-org:cwmp-1-0"><s:Body>
                <c:GetParameterNames><ParameterPath>Device.</ParameterPath><NextLevel>\(literal)</NextLevel></c:GetParameterNames>
                </s:Body></s:Envelope>
                """
            #expect(try CWMPDecoder().decode(text, from: .acs).body == .acsRequest(.getParameterNames(path: "Device.", nextLevel: expected)))
        }
    }
}
