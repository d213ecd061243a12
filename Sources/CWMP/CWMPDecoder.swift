import CLibXML2
import TandemCore

/// Decodes CWMP SOAP envelopes with libxml2 (see `XMLParser` for the hardening).
///
/// Decoding is lenient where real CPEs deviate (protocol digest A.11): any prefixes, every
/// `urn:dslforum-org:cwmp-1-N` namespace, a missing or empty Header, missing `xsi:type` (string) and
/// `soapenc:arrayType`, wrong array counts, CR/LF and stray whitespace around names and numbers, the
/// 1999 XML Schema namespaces, zone-less or malformed dateTimes (kept as text), lower-case OUIs,
/// duplicated parameters (last wins) and the obsolete `NoMoreRequests` header. What it tolerates is
/// listed in `CWMPEnvelope.warnings`.
public struct CWMPDecoder: Sendable {
    /// Who sent the message. It decides the direction of `GetRPCMethods`, which both sides define
    /// (TR-069 A.3.1.1), and which method names are known.
    public enum Sender: Hashable, Sendable {
        /// The message comes from a CPE (the ACS side decodes it).
        case cpe
        /// The message comes from an ACS (a CPE simulator decodes it).
        case acs
    }

    public struct Configuration: Hashable, Sendable {
        /// Messages larger than this are refused before parsing. Default 4 MiB; TR-069 3.5 requires
        /// at least 32 KiB to be accepted.
        public var maximumMessageBytes: Int
        /// Maximum element nesting. A CWMP message needs at most 8 levels; default 32.
        public var maximumDepth: Int
        /// Reads a CPE's Inform from the parser's events without building a document tree (about
        /// half of libxml2's work; see `InformStreamReader`). Both readers give the same envelope;
        /// false always builds the tree, for comparison.
        public var streamsInform: Bool

        public init(maximumMessageBytes: Int = 4 * 1024 * 1024, maximumDepth: Int = 32, streamsInform: Bool = true) {
            self.maximumMessageBytes = maximumMessageBytes
            self.maximumDepth = maximumDepth
            self.streamsInform = streamsInform
        }
    }

    public var configuration: Configuration

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Decodes one envelope.
    ///
    /// - Parameters:
    ///   - bytes: the HTTP body.
    ///   - sender: who sent it.
    ///   - encoding: the `charset` of the HTTP Content-Type, if any; the XML declaration is honoured
    ///     otherwise.
    public func decode(_ bytes: UnsafeRawBufferPointer, from sender: Sender, encoding: String? = nil) throws(CWMPDecodingError) -> CWMPEnvelope {
        guard bytes.count <= configuration.maximumMessageBytes else {
            throw CWMPDecodingError(.tooLarge, "message of \(bytes.count) bytes exceeds the limit of \(configuration.maximumMessageBytes) bytes")
        }
        if Self.isEmptyBody(bytes) { throw CWMPDecodingError(.empty, "empty message") }
        if configuration.streamsInform, sender == .cpe, let envelope = InformStreamReader.read(bytes, encoding: encoding, limits: limits) {
            return envelope
        }
        return try XMLParser.withDocument(bytes, encoding: encoding, limits: limits) { (root) throws(CWMPDecodingError) -> CWMPEnvelope in
            try EnvelopeReader(sender: sender).read(root)
        }
    }

    /// The Inform in `bytes` as the streaming reader alone reads it (`Configuration.streamsInform`):
    /// nil when the message is not an Inform it reads, and only the tree decoder can tell what it is
    /// (another method, an error, a construct the reader leaves to the tree). For tests and
    /// comparisons; `decode` tries it first.
    public func streamedInform(_ bytes: UnsafeRawBufferPointer, encoding: String? = nil) -> CWMPEnvelope? {
        InformStreamReader.read(bytes, encoding: encoding, limits: limits)
    }

    private var limits: XMLParser.Limits {
        XMLParser.Limits(maximumBytes: configuration.maximumMessageBytes, maximumDepth: configuration.maximumDepth)
    }

    /// Decodes one envelope from any byte sequence (contiguous storage is used in place).
    public func decode<Bytes: Sequence>(_ bytes: Bytes, from sender: Sender, encoding: String? = nil) throws(CWMPDecodingError) -> CWMPEnvelope
    where Bytes.Element == UInt8 {
        let attempt = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(CWMPDecodingError) -> CWMPEnvelope in
                try decode(UnsafeRawBufferPointer(buffer), from: sender, encoding: encoding)
            }
        }
        if let attempt { return try attempt.get() }
        let copy = Array(bytes)
        let result = copy.withUnsafeBytes { buffer in
            Result { () throws(CWMPDecodingError) -> CWMPEnvelope in
                try decode(buffer, from: sender, encoding: encoding)
            }
        }
        return try result.get()
    }

    /// Decodes one envelope from text.
    public func decode(_ text: String, from sender: Sender) throws(CWMPDecodingError) -> CWMPEnvelope {
        try decode(Array(text.utf8), from: sender)
    }

    /// True for a body an ACS must treat as an empty POST: no bytes or only whitespace (protocol
    /// digest A.11: some CPEs send `Content-Length: 0` with a Content-Type and SOAPAction).
    public static func isEmptyBody<Bytes: Sequence>(_ bytes: Bytes) -> Bool where Bytes.Element == UInt8 {
        bytes.allSatisfy(CString.isXMLWhitespace)
    }
}

/// Reads the SOAP envelope and header; hands the body to `BodyReader`.
private struct EnvelopeReader {
    let sender: CWMPDecoder.Sender

    func read(_ root: XMLElement) throws(CWMPDecodingError) -> CWMPEnvelope {
        guard root.isNamed("Envelope") else {
            throw CWMPDecodingError(.notSOAP, "root element is <\(root.name)>, not a SOAP Envelope", line: root.line)
        }
        if root.isInNamespace("http://www.w3.org/2003/05/soap-envelope") {
            throw CWMPDecodingError(.notSOAP, "SOAP 1.2 envelopes are not CWMP; TR-069 uses SOAP 1.1", line: root.line)
        }
        guard root.isInNamespace("http://schemas.xmlsoap.org/soap/envelope/") else {
            throw CWMPDecodingError(
                .notSOAP, "Envelope is in namespace \(root.namespaceURI ?? "(none)"), not \(XMLNamespaces.soapEnvelope)", line: root.line)
        }

        var envelope = CWMPEnvelope(body: .unknownMethod(""))
        var warnings: [CWMPDecodeWarning] = []
        var headerNamespace: CWMPNamespace?
        var bodyElement: XMLElement?
        for child in root.children {
            if child.isNamed("Header") {
                readHeader(child, into: &envelope, namespace: &headerNamespace, warnings: &warnings)
            } else if child.isNamed("Body") {
                bodyElement = child
                break
            }
        }
        guard let bodyElement else {
            throw CWMPDecodingError(.notSOAP, "SOAP Envelope has no Body", line: root.line, cwmpID: envelope.cwmpID)
        }
        guard let rpc = bodyElement.children.first(where: { _ in true }) else {
            throw CWMPDecodingError(.notSOAP, "SOAP Body is empty", line: bodyElement.line, cwmpID: envelope.cwmpID)
        }

        let method = rpc.name
        let rpcNamespace = rpc.namespaceURI.flatMap(CWMPNamespace.init(uri:)) ?? headerNamespace
        var reader = BodyReader(sender: sender, method: method)
        do throws(CWMPDecodingError) {
            if rpc.isNamed("Fault") && (rpc.namespaceURI == nil || rpc.isInNamespace("http://schemas.xmlsoap.org/soap/envelope/")) {
                envelope.namespace = headerNamespace ?? .v1_0
                envelope.body = .fault(try reader.readSOAPFault(rpc, namespace: &envelope.namespace))
            } else {
                if let uri = rpc.namespaceURI {
                    guard let namespace = CWMPNamespace(uri: uri) else {
                        throw CWMPDecodingError(.unsupportedNamespace, "<\(method)> is in namespace \(uri), not a CWMP namespace", line: rpc.line)
                    }
                    envelope.namespace = namespace
                } else {
                    envelope.namespace = headerNamespace ?? .v1_0
                }
                envelope.body = try reader.readRPC(rpc)
            }
        } catch {
            throw error.with(cwmpID: envelope.cwmpID, method: method, namespace: rpcNamespace)
        }
        warnings.append(contentsOf: reader.warnings)
        envelope.warnings = warnings
        return envelope
    }

    /// Header elements are matched by local name in any namespace (TR-069 A.2.1 defines them in the
    /// cwmp namespace; `mustUnderstand` is not checked, some CPEs send 0 where 1 is fixed).
    private func readHeader(
        _ header: XMLElement, into envelope: inout CWMPEnvelope, namespace: inout CWMPNamespace?, warnings: inout [CWMPDecodeWarning]
    ) {
        for element in header.children {
            guard let field = CWMPHeaderField(localName: element.node.pointee.name) else {
                // TR-069 (2004) NoMoreRequests: absent from every cwmp-1-x.xsd; ignored.
                warnings.append(.ignoredHeader(element.name))
                continue
            }
            element.withText { field.apply(text: $0, to: &envelope) }
            if namespace == nil, let uri = element.namespaceURI { namespace = CWMPNamespace(uri: uri) }
        }
    }
}

/// The SOAP header elements CWMP defines (TR-069 A.2.1), matched by local name in any namespace;
/// the tree reader and the streaming Inform reader both fill the envelope through it.
enum CWMPHeaderField {
    case id, holdRequests, sessionTimeout, supportedVersions, useVersion

    init?(localName: UnsafePointer<xmlChar>) {
        if CString.equals(localName, "ID") {
            self = .id
        } else if CString.equals(localName, "HoldRequests") {
            self = .holdRequests
        } else if CString.equals(localName, "SessionTimeout") {
            self = .sessionTimeout
        } else if CString.equals(localName, "SupportedCWMPVersions") {
            self = .supportedVersions
        } else if CString.equals(localName, "UseCWMPVersion") {
            self = .useVersion
        } else {
            return nil
        }
    }

    /// Sets the field from the element's text (NUL-terminated, as written).
    func apply(text: UnsafePointer<xmlChar>, to envelope: inout CWMPEnvelope) {
        switch self {
        case .id:
            envelope.cwmpID = CString.trimmedString(text)
        case .holdRequests:
            envelope.holdRequests = XMLScalars.boolean(text)
        case .sessionTimeout:
            envelope.sessionTimeout = XMLScalars.integer(text).flatMap(UInt32.init(exactly:))
        case .supportedVersions:
            envelope.supportedCWMPVersions = CString.trimmedString(text).split(separator: ",").map { CString.trimmed(String($0)) }
                .filter { !$0.isEmpty }
        case .useVersion:
            envelope.useCWMPVersion = CString.trimmedString(text)
        }
    }
}
