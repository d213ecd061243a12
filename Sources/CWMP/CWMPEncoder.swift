import TandemCore

/// Encodes CWMP envelopes as SOAP 1.1 text, for both directions.
///
/// The output always carries `soapenc:arrayType` on arrays and `xsi:type` on values (protocol digest
/// A.2, E.3), uses the envelope's cwmp namespace (an ACS answers in the CPE's own, A.11), marks
/// `cwmp:ID` with `mustUnderstand="1"` (cwmp-1-2.xsd `ID`), and escapes all text. Decoding the
/// output gives back the same envelope.
public struct CWMPEncoder: Sendable {
    /// How booleans are written; some CPEs reject `true`/`false` (GenieACS `cwmp.booleanLiteral`).
    public enum BooleanStyle: Hashable, Sendable {
        /// `true` / `false`.
        case words
        /// `1` / `0`.
        case digits
    }

    public struct Options: Hashable, Sendable {
        /// Write `<?xml version="1.0" encoding="UTF-8"?>` first. Some CPEs reject the declaration.
        public var xmlDeclaration: Bool
        public var booleans: BooleanStyle
        /// Keep fractional seconds in dateTimes; some CPEs reject them (GenieACS
        /// `cwmp.datetimeMilliseconds`).
        public var fractionalSeconds: Bool

        public init(xmlDeclaration: Bool = true, booleans: BooleanStyle = .words, fractionalSeconds: Bool = true) {
            self.xmlDeclaration = xmlDeclaration
            self.booleans = booleans
            self.fractionalSeconds = fractionalSeconds
        }
    }

    public var options: Options

    public init(options: Options = Options()) {
        self.options = options
    }

    /// The envelope as UTF-8 bytes.
    public func encode(_ envelope: CWMPEnvelope) -> [UInt8] {
        var writer = XMLWriter(capacity: 1024)
        writer.booleans = options.booleans
        writer.fractionalSeconds = options.fractionalSeconds
        write(envelope, to: &writer)
        return writer.bytes
    }

    /// The envelope as text.
    public func encodeString(_ envelope: CWMPEnvelope) -> String {
        String(decoding: encode(envelope), as: UTF8.self)
    }

    private func write(_ envelope: CWMPEnvelope, to w: inout XMLWriter) {
        if options.xmlDeclaration { w.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n") }
        w.raw(
            "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:soapenc=\"http://schemas.xmlsoap.org/soap/encoding/\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:cwmp=\""
        )
        w.attribute(envelope.namespace.rawValue)
        w.raw("\" soapenv:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\">")
        writeHeader(envelope, to: &w)
        w.open("soapenv:Body")
        w.body(envelope.body)
        w.close("soapenv:Body")
        w.close("soapenv:Envelope")
    }

    /// TR-069 A.2.1 header elements; `mustUnderstand` as the schemas fix it.
    private func writeHeader(_ envelope: CWMPEnvelope, to w: inout XMLWriter) {
        let hasHeader = envelope.cwmpID != nil || envelope.holdRequests != nil || envelope.sessionTimeout != nil
            || envelope.supportedCWMPVersions != nil || envelope.useCWMPVersion != nil
        guard hasHeader else { return }
        w.open("soapenv:Header")
        if let id = envelope.cwmpID {
            w.raw("<cwmp:ID soapenv:mustUnderstand=\"1\">")
            w.text(id)
            w.close("cwmp:ID")
        }
        if let hold = envelope.holdRequests {
            w.raw("<cwmp:HoldRequests soapenv:mustUnderstand=\"1\">")
            w.boolean(hold)
            w.close("cwmp:HoldRequests")
        }
        if let timeout = envelope.sessionTimeout {
            w.raw("<cwmp:SessionTimeout soapenv:mustUnderstand=\"0\">")
            w.raw(String(timeout))
            w.close("cwmp:SessionTimeout")
        }
        if let versions = envelope.supportedCWMPVersions {
            w.raw("<cwmp:SupportedCWMPVersions soapenv:mustUnderstand=\"0\">")
            w.text(versions.joined(separator: ","))
            w.close("cwmp:SupportedCWMPVersions")
        }
        if let version = envelope.useCWMPVersion {
            w.raw("<cwmp:UseCWMPVersion soapenv:mustUnderstand=\"1\">")
            w.text(version)
            w.close("cwmp:UseCWMPVersion")
        }
        w.close("soapenv:Header")
    }
}
