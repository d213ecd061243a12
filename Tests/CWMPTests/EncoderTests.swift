import CWMP
import Testing
import TandemCore

@Suite struct EncoderTests {
    func text(_ envelope: CWMPEnvelope, _ options: CWMPEncoder.Options = .init()) -> String {
        CWMPEncoder(options: options).encodeString(envelope)
    }

    @Test func informResponseIsExactlyThis() {
        let envelope = CWMPEnvelope(cwmpID: "1a2b3c", namespace: .v1_0, body: .acsResponse(.inform(maxEnvelopes: 1)))
        #expect(text(envelope) == """
            <?xml version="1.0" encoding="UTF-8"?>
            <soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" \
            xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:cwmp="urn:dslforum-org:cwmp-1-0" \
            soapenv:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><soapenv:Header><cwmp:ID soapenv:mustUnderstand="1">1a2b3c</cwmp:ID>\
            </soapenv:Header><soapenv:Body><cwmp:InformResponse><MaxEnvelopes>1</MaxEnvelopes></cwmp:InformResponse></soapenv:Body></soapenv:Envelope>
            """)
    }

    @Test func xmlDeclarationIsOptional() {
        let envelope = CWMPEnvelope(body: .acsRequest(.factoryReset))
        #expect(text(envelope).hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soapenv:Envelope "))
        #expect(text(envelope, .init(xmlDeclaration: false)).hasPrefix("<soapenv:Envelope "))
        #expect(!text(envelope, .init(xmlDeclaration: false)).contains("<?xml"))
    }

    @Test func arraysAlwaysCarryArrayTypeWithTheirCount() {
        let gpv = text(CWMPEnvelope(body: .acsRequest(.getParameterValues(names: ["A.", "B.", "C"]))))
        #expect(gpv.contains("<ParameterNames soapenc:arrayType=\"xsd:string[3]\"><string>A.</string><string>B.</string><string>C</string></ParameterNames>"))
        let spv = text(CWMPEnvelope(body: .acsRequest(.setParameterValues(
            parameters: [.init(name: "A.x", value: .string("1")), .init(name: "A.y", value: .unsignedInt(2))], parameterKey: "k"))))
        #expect(spv.contains("<ParameterList soapenc:arrayType=\"cwmp:ParameterValueStruct[2]\">"))
        #expect(spv.contains("<Value xsi:type=\"xsd:string\">1</Value>"))
        #expect(spv.contains("<Value xsi:type=\"xsd:unsignedInt\">2</Value>"))
        let empty = text(CWMPEnvelope(body: .acsRequest(.getParameterAttributes(names: []))))
        #expect(empty.contains("soapenc:arrayType=\"xsd:string[0]\""))
        let spa = text(CWMPEnvelope(body: .acsRequest(.setParameterAttributes(parameters: [.notification("A.x", 2)]))))
        #expect(spa.contains("soapenc:arrayType=\"cwmp:SetParameterAttributesStruct[1]\""))
        #expect(spa.contains("<AccessList soapenc:arrayType=\"xsd:string[0]\"></AccessList>"))
    }

    @Test func everyValueCarriesXsiType() {
        let values: [TypedValue] = [
            .string("s"), .int(1), .unsignedInt(2), .long(3), .unsignedLong(4), .boolean(true), .dateTime(.unknown), .base64([1]),
            .hexBinary([2]), .decimal(try! DecimalValue(parsing: "1.5")),
        ]
        let output = text(CWMPEnvelope(body: .cpeResponse(.getParameterValues(parameters: values.map { .init(name: "A.\($0.type)", value: $0) }))))
        for type in ["string", "int", "unsignedInt", "long", "unsignedLong", "boolean", "dateTime", "base64", "hexBinary", "decimal"] {
            #expect(output.contains("<Value xsi:type=\"xsd:\(type)\">"), "\(type)")
        }
        #expect(output.contains("<Value xsi:type=\"xsd:base64\">AQ==</Value>"))
        #expect(output.contains("<Value xsi:type=\"xsd:hexBinary\">02</Value>"))
    }

    @Test func namespaceIsTheEnvelopes() {
        #expect(text(CWMPEnvelope(namespace: .v1_2, body: .acsRequest(.getRPCMethods))).contains("xmlns:cwmp=\"urn:dslforum-org:cwmp-1-2\""))
        #expect(text(CWMPEnvelope(namespace: .v1_3, body: .acsRequest(.getRPCMethods))).contains("xmlns:cwmp=\"urn:dslforum-org:cwmp-1-3\""))
        #expect(text(CWMPEnvelope(body: .acsRequest(.getRPCMethods))).contains("xmlns:cwmp=\"urn:dslforum-org:cwmp-1-0\""))
    }

    @Test func headerElementsAndMustUnderstand() {
        let output = text(CWMPEnvelope(
            cwmpID: "7", holdRequests: true, sessionTimeout: 30, supportedCWMPVersions: ["1.0", "1.4"], useCWMPVersion: "1.4",
            body: .acsResponse(.inform(maxEnvelopes: 1))))
        #expect(output.contains("<cwmp:ID soapenv:mustUnderstand=\"1\">7</cwmp:ID>"))
        #expect(output.contains("<cwmp:HoldRequests soapenv:mustUnderstand=\"1\">true</cwmp:HoldRequests>"))
        #expect(output.contains("<cwmp:SessionTimeout soapenv:mustUnderstand=\"0\">30</cwmp:SessionTimeout>"))
        #expect(output.contains("<cwmp:SupportedCWMPVersions soapenv:mustUnderstand=\"0\">1.0,1.4</cwmp:SupportedCWMPVersions>"))
        #expect(output.contains("<cwmp:UseCWMPVersion soapenv:mustUnderstand=\"1\">1.4</cwmp:UseCWMPVersion>"))
        #expect(!text(CWMPEnvelope(body: .acsRequest(.getRPCMethods))).contains("Header"))
    }

    @Test func textIsEscaped() {
        let output = text(CWMPEnvelope(cwmpID: "<id&>", body: .acsRequest(.setParameterValues(
            parameters: [.init(name: "A.x", value: .string("a&b<c>d\"e'f\r\ng\th"))], parameterKey: "]]>"))))
        #expect(output.contains("<cwmp:ID soapenv:mustUnderstand=\"1\">&lt;id&amp;&gt;</cwmp:ID>"))
        #expect(output.contains(">a&amp;b&lt;c&gt;d\"e'f&#13;\ng\th</Value>"))
        #expect(output.contains("<ParameterKey>]]&gt;</ParameterKey>"))
    }

    @Test func booleansAsWordsOrDigits() {
        let envelope = CWMPEnvelope(body: .acsRequest(.setParameterValues(parameters: [.init(name: "A.b", value: .boolean(true))], parameterKey: "")))
        #expect(text(envelope).contains("<Value xsi:type=\"xsd:boolean\">true</Value>"))
        #expect(text(envelope, .init(booleans: .digits)).contains("<Value xsi:type=\"xsd:boolean\">1</Value>"))
        let gpn = CWMPEnvelope(body: .acsRequest(.getParameterNames(path: "Device.", nextLevel: false)))
        #expect(text(gpn).contains("<NextLevel>false</NextLevel>"))
        #expect(text(gpn, .init(booleans: .digits)).contains("<NextLevel>0</NextLevel>"))
    }

    @Test func fractionalSecondsCanBeDropped() {
        let envelope = CWMPEnvelope(body: .cpeResponse(.getParameterValues(parameters: [
            .init(name: "A.t", value: .dateTime(dateTime("2024-05-17T10:15:30.123+02:00")))
        ])))
        #expect(text(envelope).contains(">2024-05-17T10:15:30.123+02:00</Value>"))
        #expect(text(envelope, .init(fractionalSeconds: false)).contains(">2024-05-17T10:15:30+02:00</Value>"))
        let transfer = CWMPEnvelope(body: .cpeResponse(.download(.init(status: 0, startTime: CWMPTime(text: "2024-05-17T10:15:30.5Z")))))
        #expect(text(transfer, .init(fractionalSeconds: false)).contains("<StartTime>2024-05-17T10:15:30Z</StartTime>"))
    }

    @Test func faultShape() {
        let output = text(CWMPEnvelope(cwmpID: "9", body: .fault(CWMPFault(
            code: .invalidArguments, parameterFaults: [.init(parameterName: "A.x", code: .invalidParameterValue)]))))
        #expect(output.contains(
            "<soapenv:Body><soapenv:Fault><faultcode>Client</faultcode><faultstring>CWMP fault</faultstring><detail><cwmp:Fault>"
                + "<FaultCode>9003</FaultCode><FaultString>Invalid arguments</FaultString><SetParameterValuesFault><ParameterName>A.x</ParameterName>"
                + "<FaultCode>9007</FaultCode><FaultString>Invalid parameter value</FaultString></SetParameterValuesFault></cwmp:Fault></detail></soapenv:Fault>"))
        let retry = text(CWMPEnvelope(body: .fault(CWMPFault(code: .acsRetryRequest))))
        #expect(retry.contains("<faultcode>Server</faultcode>"))
    }

    @Test func changeDUStateNamesTheConcreteStruct() {
        let output = text(CWMPEnvelope(body: .acsRequest(.changeDUState(.init(operations: [.uninstall(uuid: "u")], commandKey: "k")))))
        #expect(output.contains("<cwmp:ChangeDUState><Operations xsi:type=\"cwmp:UninstallOpStruct\"><UUID>u</UUID></Operations><CommandKey>k</CommandKey></cwmp:ChangeDUState>"))
    }

    @Test func unknownMethodNamesAreSanitised() {
        #expect(text(CWMPEnvelope(body: .unknownMethod("X_OK"))).contains("<cwmp:X_OK/>"))
        #expect(text(CWMPEnvelope(body: .unknownMethod("bad><name"))).contains("<cwmp:X_InvalidMethodName/>"))
    }

    @Test func downloadFromANeutralTransfer() {
        let transfer = FileTransfer(kind: .firmware, url: "https://f/x.bin", username: "u", fileSize: 9, delaySeconds: 3, commandKey: "c")
        let download = ACSRequest.Download(transfer)
        #expect(download.fileType == "1 Firmware Upgrade Image")
        #expect(download.url == "https://f/x.bin")
        #expect(download.username == "u")
        #expect(download.password == "")
        #expect(download.fileSize == 9)
        #expect(download.delaySeconds == 3)
        #expect(download.commandKey == "c")
        let upload = ACSRequest.Upload(FileTransfer(kind: .configuration, url: "https://u/"))
        #expect(upload.fileType == "1 Vendor Configuration File")
    }
}
