import CWMP
import Testing
import TandemCore

/// The streaming Inform reader against the tree reader: wherever the streaming reader gives an
/// envelope, it is the tree's envelope, warnings included; everywhere else it declines and `decode`
/// gives the tree's result or error.
@Suite struct InformStreamTests {
    static let treeOnly = CWMPDecoder(configuration: .init(streamsInform: false))
    static let streaming = CWMPDecoder()

    /// The outcome of a decode, comparable.
    enum Outcome: Equatable, CustomStringConvertible {
        case envelope(CWMPEnvelope)
        case error(CWMPDecodingError)

        init(_ decoder: CWMPDecoder, _ bytes: [UInt8]) {
            do {
                self = .envelope(try decoder.decode(bytes, from: .cpe))
            } catch {
                self = .error(error)
            }
        }

        var description: String {
            switch self {
            case .envelope(let envelope): "envelope \(envelope)"
            case .error(let error): "error \(error)"
            }
        }
    }

    static func streamed(_ bytes: [UInt8], decoder: CWMPDecoder = streaming) -> CWMPEnvelope? {
        bytes.withUnsafeBytes { decoder.streamedInform($0) }
    }

    static let informFixtures = Fixtures.messages.filter { $0.hasPrefix("cpe-inform") }

    @Test func theFixturesIncludeInforms() {
        #expect(Self.informFixtures.count >= 10, "\(Self.informFixtures)")
    }

    @Test(arguments: informFixtures)
    func everyInformFixtureIsStreamedAsTheTreeReadsIt(name: String) throws {
        let bytes = try Fixtures.bytes(name)
        let tree = try Self.treeOnly.decode(bytes, from: .cpe)
        let streamed = try #require(Self.streamed(bytes), "the streaming reader declined \(name)")
        #expect(streamed == tree)
        #expect(streamed.inform != nil)
    }

    @Test(arguments: Fixtures.all.filter { !$0.hasPrefix("cpe-inform") })
    func everyOtherMessageIsLeftToTheTree(name: String) throws {
        let bytes = try Fixtures.bytes(name)
        #expect(Self.streamed(bytes) == nil, "\(name) is not an Inform the stream may read")
        #expect(Outcome(Self.streaming, bytes) == Outcome(Self.treeOnly, bytes))
    }

    /// Edits of a real Inform: each either streams to the tree's envelope or is declined and gets
    /// the tree's result. A good share must stream, or the comparison proves nothing.
    @Test func variantsOfAnInformAgreeWithTheTree() throws {
        let base = String(decoding: try Fixtures.bytes("cpe-inform-boot.xml"), as: UTF8.self)
        var streamedCount = 0
        var declinedLabels: [String] = []
        for (label, edit) in Self.edits {
            let text = edit(base)
            #expect(text != base, "edit \(label) changed nothing")
            let bytes = Array(text.utf8)
            let tree = Outcome(Self.treeOnly, bytes)
            let decoded = Outcome(Self.streaming, bytes)
            #expect(decoded == tree, "\(label)")
            if let streamed = Self.streamed(bytes) {
                streamedCount += 1
                #expect(Outcome.envelope(streamed) == tree, "\(label): streamed \(streamed), tree \(tree)")
            } else {
                declinedLabels.append(label)
            }
        }
        #expect(streamedCount >= Self.edits.count / 2, "declined: \(declinedLabels)")
        // The ones the reader must take itself: what real CPEs send.
        for label in ["comments everywhere", "cdata value", "entities in text", "long values", "two values", "duplicate parameter",
            "header extras", "unqualified inform", "non-ascii text", "no xsi:type", "lower-case oui", "single quotes and prefixes"]
        {
            #expect(!declinedLabels.contains(label), "\(label) was left to the tree")
        }
        // The ones that must be left to the tree: errors, and what the reader does not read itself.
        for label in ["doctype", "no name", "empty event code", "bad device id", "entity in xsi:type", "truncated", "too deep",
            "bogus rpc namespace", "another method", "unbound prefix on the rpc", "unbound prefix on DeviceId", "unbound prefix on Body",
            "unbound prefix on a header", "unbound prefix on arrayType", "unbound prefix on Value", "prefix bound to the empty URI"]
        {
            #expect(declinedLabels.contains(label), "\(label) was streamed")
        }
    }

    @Test func warningsComeOutInTheTreesOrder() throws {
        let text = String(decoding: try Fixtures.bytes("cpe-inform-boot.xml"), as: UTF8.self)
            .replacing("<cwmp:ID SOAP-ENV:mustUnderstand=\"1\">1a2b3c</cwmp:ID>", with: "<cwmp:ID>1a2b3c</cwmp:ID><cwmp:NoMoreRequests>1</cwmp:NoMoreRequests>")
            .replacing("2024-05-17T10:15:30.123+02:00", with: "yesterday")
            .replacing("<Value xsi:type=\"xsd:unsignedInt\">86400</Value>", with: "<Value xsi:type=\"xsd:unsignedInt\">lots</Value>")
            .replacing("ParameterValueStruct[7]", with: "ParameterValueStruct[9]")
        let streamed = try #require(Self.streamed(Array(text.utf8)))
        #expect(
            streamed.warnings == [
                .ignoredHeader("NoMoreRequests"), .malformedDateTime(field: "CurrentTime", text: "yesterday"),
                .valueKeptAsString(parameter: "Device.DeviceInfo.UpTime", declaredType: "xsd:unsignedInt"),
                .arrayCountMismatch(element: "ParameterList", declared: 9, actual: 7),
            ])
        #expect(streamed == (try Self.treeOnly.decode(Array(text.utf8), from: .cpe)))
    }

    @Test func theLimitsHoldForTheStream() throws {
        let bytes = try Fixtures.bytes("cpe-inform-boot.xml")
        let small = CWMPDecoder(configuration: .init(maximumMessageBytes: bytes.count - 1))
        #expect(Self.streamed(bytes, decoder: small) == nil)
        #expect(throws: CWMPDecodingError.self) { try small.decode(bytes, from: .cpe) }
        let shallow = CWMPDecoder(configuration: .init(maximumDepth: 5))
        #expect(Self.streamed(bytes, decoder: shallow) == nil)
        let error = #expect(throws: CWMPDecodingError.self) { try shallow.decode(bytes, from: .cpe) }
        #expect(error?.kind == .tooDeep)
    }

    /// libxml2's tree refuses a text node over 10,000,000 bytes (after conversion to UTF-8), and the
    /// document with it; a one-byte charset triples `€` within the 4 MiB message limit.
    @Test func aTextRunTheTreeRefusesIsLeftToIt() throws {
        let base = String(decoding: try Fixtures.bytes("cpe-inform-boot.xml"), as: UTF8.self)
            .replacing("encoding=\"UTF-8\"", with: "encoding=\"windows-1252\"")
        let parts = base.split(separator: "key-7", maxSplits: 1).map { Array($0.utf8) }
        try #require(parts.count == 2)
        func message(euros: Int) -> [UInt8] { parts[0] + [UInt8](repeating: 0x80, count: euros) + parts[1] }

        let under = message(euros: 3_000_000)  // 9,000,000 bytes of UTF-8: a text node the tree keeps
        let streamed = try #require(Self.streamed(under))
        #expect(streamed == (try Self.treeOnly.decode(under, from: .cpe)))
        #expect(streamed.inform?.value(of: "Device.ManagementServer.ParameterKey") == .string(String(repeating: "€", count: 3_000_000)))

        let over = message(euros: 3_400_000)  // 10,200,000 bytes of UTF-8
        #expect(over.count < CWMPDecoder.Configuration().maximumMessageBytes)
        #expect(Self.streamed(over) == nil)
        #expect(throws: CWMPDecodingError.self) { try Self.treeOnly.decode(over, from: .cpe) }
        #expect(Outcome(Self.streaming, over) == Outcome(Self.treeOnly, over))
    }

    @Test func anACSMessageIsNeverStreamed() throws {
        let bytes = try Fixtures.bytes("cpe-inform-boot.xml")
        // An ACS does not send Informs: a CPE simulator decodes everything with the tree.
        let envelope = try Self.streaming.decode(bytes, from: .acs)
        #expect(envelope.inform == nil)
    }

    static let edits: [(String, @Sendable (String) -> String)] = [
        ("comments everywhere", { $0.replacing("><", with: "><!-- c --><").replacing("</Name>", with: "<!--x--></Name>") }),
        ("comment inside a value", { $0.replacing(">86400<", with: ">864<!-- split -->00<") }),
        ("cdata value", { $0.replacing(">key-7<", with: "><![CDATA[key<7>&]]><") }),
        ("cdata name", { $0.replacing(">Device.DeviceInfo.UpTime<", with: "><![CDATA[ Device.DeviceInfo.UpTime ]]><") }),
        ("entities in text", { $0.replacing(">VER.A<", with: ">&lt;A&gt; &#65;&#x42; &quot;&apos;&amp;<") }),
        ("whitespace around values", { $0.replacing(">2.15<", with: ">\n  2.15\t<").replacing(">86400<", with: "> 86400\r\n<") }),
        ("no xsi:type", { $0.replacing(" xsi:type=\"xsd:unsignedInt\"", with: "") }),
        ("unknown xsi:type", { $0.replacing("xsd:unsignedInt", with: "xsd:fancy") }),
        ("xsi:type not parsing", { $0.replacing("xsd:unsignedInt\">86400", with: "xsd:boolean\">86400") }),
        ("1999 schema instance", { $0.replacing("http://www.w3.org/2001/XMLSchema-instance", with: "http://www.w3.org/1999/XMLSchema-instance") }),
        ("xsi:type in another namespace", { $0.replacing("xsi:type=\"xsd:unsignedInt\"", with: "SOAP-ENC:type=\"xsd:unsignedInt\"") }),
        ("two type attributes", { $0.replacing("xsi:type=\"xsd:unsignedInt\"", with: "type=\"xsd:boolean\" xsi:type=\"xsd:unsignedInt\"") }),
        ("entity in xsi:type", { $0.replacing("xsi:type=\"xsd:unsignedInt\"", with: "xsi:type=\"xsd:unsigned&#38;Int\"") }),
        ("empty xsi:type", { $0.replacing("xsi:type=\"xsd:unsignedInt\"", with: "xsi:type=\"\"") }),
        ("no value element", { $0.replacing("<Value xsi:type=\"xsd:string\">key-7</Value>", with: "") }),
        ("two values", { $0.replacing("<Value xsi:type=\"xsd:string\">key-7</Value>", with: "<Value>a</Value><Value xsi:type=\"xsd:int\">-3</Value>") }),
        ("two names", { $0.replacing("<Name>Device.ManagementServer.ParameterKey</Name>", with: "<Name>X.First</Name><Name>X.Second</Name>") }),
        ("no name", { $0.replacing("<Name>Device.ManagementServer.ParameterKey</Name>", with: "") }),
        ("element inside a value", { $0.replacing(">key-7<", with: ">key<b>bold</b>-7<") }),
        ("unknown element in a parameter", { $0.replacing("<Name>Device.DeviceInfo.UpTime</Name>", with: "<Name>Device.DeviceInfo.UpTime</Name><Notification>2</Notification>") }),
        ("item not named ParameterValueStruct", { $0.replacing("<ParameterValueStruct>\n          <Name>Device.RootDataModelVersion", with: "<Item>\n          <Name>Device.RootDataModelVersion").replacing("<Value xsi:type=\"xsd:string\">2.15</Value>\n        </ParameterValueStruct>", with: "<Value xsi:type=\"xsd:string\">2.15</Value>\n        </Item>") }),
        ("duplicate parameter", { $0.replacing("<Name>Device.DeviceInfo.HardwareVersion</Name>", with: "<Name>Device.RootDataModelVersion</Name>") }),
        ("array count differs", { $0.replacing("ParameterValueStruct[7]", with: "ParameterValueStruct[0007]").replacing("EventStruct[2]", with: "EventStruct[3]") }),
        ("no array types", { $0.replacing(" SOAP-ENC:arrayType=\"cwmp:ParameterValueStruct[7]\"", with: "").replacing(" SOAP-ENC:arrayType=\"cwmp:EventStruct[2]\"", with: "") }),
        ("unqualified array type", { $0.replacing("SOAP-ENC:arrayType=\"cwmp:EventStruct[2]\"", with: "arrayType=\"EventStruct[1]\"") }),
        ("empty parameter list", { $0.replacing(#/<ParameterList[\s\S]*</ParameterList>/#, with: "<ParameterList/>") }),
        ("no parameter list", { $0.replacing(#/<ParameterList[\s\S]*</ParameterList>/#, with: "") }),
        ("two parameter lists", { $0.replacing("</ParameterList>", with: "</ParameterList><ParameterList><ParameterValueStruct><Name>Only.This</Name><Value>1</Value></ParameterValueStruct></ParameterList>") }),
        ("empty event code", { $0.replacing(">M Reboot<", with: "> <") }),
        ("event without command key", { $0.replacing("<CommandKey>reboot-42</CommandKey>", with: "") }),
        ("command key kept raw", { $0.replacing(">reboot-42<", with: ">  reboot 42 \n<") }),
        ("unknown element in an event", { $0.replacing("<EventCode>1 BOOT</EventCode>", with: "<EventCode>1 BOOT</EventCode><Extra><EventCode>X</EventCode></Extra>") }),
        ("no events", { $0.replacing(#/<Event [\s\S]*</Event>/#, with: "<Event/>") }),
        ("lower-case oui", { $0.replacing(">00D09E<", with: ">00d09e<") }),
        ("bad device id", { $0.replacing(">00D09E<", with: ">not-an-oui<") }),
        ("no device id", { $0.replacing(#/<DeviceId>[\s\S]*</DeviceId>/#, with: "") }),
        ("two device ids", { $0.replacing("</DeviceId>", with: "</DeviceId><DeviceId><Manufacturer>M</Manufacturer><OUI>AABBCC</OUI><ProductClass>P</ProductClass><SerialNumber>S2</SerialNumber></DeviceId>") }),
        ("unknown element in device id", { $0.replacing("<OUI>", with: "<ModelName>x</ModelName><OUI>") }),
        ("unknown inform child", { $0.replacing("<MaxEnvelopes>", with: "<VendorThing><Name>n</Name></VendorThing><MaxEnvelopes>") }),
        ("max envelopes malformed", { $0.replacing("<MaxEnvelopes>1</MaxEnvelopes>", with: "<MaxEnvelopes>many</MaxEnvelopes>") }),
        ("retry count out of range", { $0.replacing("<RetryCount>0</RetryCount>", with: "<RetryCount>99999999999</RetryCount>") }),
        ("retry count signed", { $0.replacing("<RetryCount>0</RetryCount>", with: "<RetryCount> +3 </RetryCount>") }),
        ("malformed time", { $0.replacing("2024-05-17T10:15:30.123+02:00", with: "0001-01-01T00:00:00") }),
        ("no header", { $0.replacing(#/<SOAP-ENV:Header>[\s\S]*</SOAP-ENV:Header>/#, with: "") }),
        ("empty header", { $0.replacing(#/<SOAP-ENV:Header>[\s\S]*</SOAP-ENV:Header>/#, with: "<SOAP-ENV:Header/>") }),
        ("header extras", { $0.replacing("</SOAP-ENV:Header>", with: "<cwmp:NoMoreRequests>1</cwmp:NoMoreRequests><cwmp:SessionTimeout> 60 </cwmp:SessionTimeout><cwmp:SupportedCWMPVersions>1.0, 1.4,</cwmp:SupportedCWMPVersions><cwmp:HoldRequests>maybe</cwmp:HoldRequests></SOAP-ENV:Header>") }),
        ("two headers", { $0.replacing("<SOAP-ENV:Body>", with: "<SOAP-ENV:Header><cwmp:ID>second</cwmp:ID></SOAP-ENV:Header><SOAP-ENV:Body>") }),
        ("header in 1-2 namespace", { $0.replacing("<cwmp:ID ", with: "<v2:ID xmlns:v2=\"urn:dslforum-org:cwmp-1-2\" ").replacing("</cwmp:ID>", with: "</v2:ID>") }),
        ("unqualified inform", { $0.replacing("<cwmp:Inform>", with: "<Inform>").replacing("</cwmp:Inform>", with: "</Inform>") }),
        ("unqualified inform, 1-2 header", { $0.replacing("<cwmp:ID ", with: "<v2:ID xmlns:v2=\"urn:dslforum-org:cwmp-1-2\" ").replacing("</cwmp:ID>", with: "</v2:ID>").replacing("<cwmp:Inform>", with: "<Inform>").replacing("</cwmp:Inform>", with: "</Inform>") }),
        ("inform in 1-4", { $0.replacing("urn:dslforum-org:cwmp-1-0", with: "urn:dslforum-org:cwmp-1-4") }),
        ("bogus rpc namespace", { $0.replacing("<cwmp:Inform>", with: "<x:Inform xmlns:x=\"urn:example:other\">").replacing("</cwmp:Inform>", with: "</x:Inform>") }),
        ("another method", { $0.replacing("cwmp:Inform>", with: "cwmp:TransferComplete>") }),
        ("element before body", { $0.replacing("<SOAP-ENV:Body>", with: "<Trailer><Inform/></Trailer><SOAP-ENV:Body>") }),
        ("element after body", { $0.replacing("</SOAP-ENV:Body>", with: "</SOAP-ENV:Body><SOAP-ENV:Body><cwmp:GetRPCMethods/></SOAP-ENV:Body>") }),
        ("second element in body", { $0.replacing("</cwmp:Inform>", with: "</cwmp:Inform><cwmp:GetRPCMethods/>") }),
        ("soap 1.2", { $0.replacing("http://schemas.xmlsoap.org/soap/envelope/", with: "http://www.w3.org/2003/05/soap-envelope") }),
        ("not an envelope", { $0.replacing("SOAP-ENV:Envelope", with: "SOAP-ENV:Letter") }),
        ("doctype", { $0.replacing("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", with: "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e \"v\">]>") }),
        ("undeclared entity", { $0.replacing(">key-7<", with: ">&e;<") }),
        ("truncated", { String($0.prefix(upTo: $0.firstRange(of: "</ParameterList>")!.lowerBound)) }),
        ("trailing garbage", { $0 + "<junk" }),
        ("too deep", { $0.replacing(">key-7<", with: ">" + String(repeating: "<a>", count: 40) + String(repeating: "</a>", count: 40) + "<") }),
        ("long values", { $0.replacing(">key-7<", with: ">" + String(repeating: "k&amp;y ", count: 700) + "<").replacing(">Device.RootDataModelVersion<", with: ">Device." + String(repeating: "Deep.", count: 300) + "Leaf<") }),
        ("non-ascii text", { $0.replacing(">Acme Networks<", with: ">Àcmé Ñetworks 网络<").replacing(">key-7<", with: ">ключ<") }),
        ("single quotes and prefixes", { $0.replacing("SOAP-ENV:", with: "s:").replacing("xmlns:SOAP-ENV=", with: "xmlns:s=").replacing("\"", with: "'") }),
        ("default namespace", { $0.replacing("<SOAP-ENV:Envelope ", with: "<Envelope xmlns=\"http://schemas.xmlsoap.org/soap/envelope/\" ").replacing("</SOAP-ENV:Envelope>", with: "</Envelope>") }),
        ("unbound prefix on the rpc", { $0.replacing("cwmp:Inform>", with: "x:Inform>") }),
        ("unbound prefix on DeviceId", { $0.replacing("DeviceId>", with: "x:DeviceId>") }),
        ("unbound prefix on Body", { $0.replacing("SOAP-ENV:Body>", with: "x:Body>") }),
        ("unbound prefix on a header", { $0.replacing("<cwmp:ID SOAP-ENV:mustUnderstand=\"1\">1a2b3c</cwmp:ID>", with: "<x:ID>1a2b3c</x:ID><x:Foo/>") }),
        ("unbound prefix on arrayType", { $0.replacing("SOAP-ENC:arrayType=\"cwmp:ParameterValueStruct[7]\"", with: "x:arrayType=\"cwmp:ParameterValueStruct[9]\"") }),
        ("unbound prefix on Value", { $0.replacing("<Value xsi:type=\"xsd:unsignedInt\">86400</Value>", with: "<x:Value>86400</x:Value>") }),
        ("prefix bound to the empty URI", { $0.replacing("<DeviceId>", with: "<x:DeviceId xmlns:x=\"\">").replacing("</DeviceId>", with: "</x:DeviceId>") }),
        ("processing instruction", { $0.replacing("<DeviceId>", with: "<?vendor x?><DeviceId>") }),
    ]
}
