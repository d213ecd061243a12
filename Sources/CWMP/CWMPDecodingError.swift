/// A message that could not be decoded, with what is wrong and, when known, where.
///
/// `cwmpID` and `method` are filled in when the envelope was readable far enough, so that the ACS
/// can still answer a malformed request with a fault 8003 that echoes the request's ID.
public struct CWMPDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of problem; an open set of named values.
    public struct Kind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The body is empty or only whitespace (an empty POST is not a SOAP message).
        public static let empty = Self(rawValue: "empty")
        /// Larger than the configured limit; refused before parsing.
        public static let tooLarge = Self(rawValue: "tooLarge")
        /// The document has a DOCTYPE (a DTD or entity declarations); refused outright.
        public static let doctype = Self(rawValue: "doctype")
        /// Elements nest deeper than the configured limit.
        public static let tooDeep = Self(rawValue: "tooDeep")
        /// Not well-formed XML (including invalid encoding or truncation).
        public static let malformedXML = Self(rawValue: "malformedXML")
        /// Well-formed XML but not a SOAP 1.1 envelope with a body.
        public static let notSOAP = Self(rawValue: "notSOAP")
        /// The RPC element is not in a cwmp namespace.
        public static let unsupportedNamespace = Self(rawValue: "unsupportedNamespace")
        /// A required element is missing.
        public static let missingElement = Self(rawValue: "missingElement")
        /// An element's text is not valid for its type.
        public static let invalidValue = Self(rawValue: "invalidValue")

        public var description: String { rawValue }
    }

    public let kind: Kind
    public let message: String
    /// The line libxml2 reported, or the line of the offending element.
    public let line: Int?
    /// The `cwmp:ID` of the message, when the header could be read.
    public let cwmpID: String?
    /// The RPC element name, when the body could be read.
    public let method: String?
    /// The cwmp namespace of the message, when it could be read (a fault answering it uses it).
    public let namespace: CWMPNamespace?

    public init(
        _ kind: Kind, _ message: String, line: Int? = nil, cwmpID: String? = nil, method: String? = nil, namespace: CWMPNamespace? = nil
    ) {
        self.kind = kind
        self.message = message
        self.line = line
        self.cwmpID = cwmpID
        self.method = method
        self.namespace = namespace
    }

    func with(cwmpID: String?, method: String?, namespace: CWMPNamespace?) -> CWMPDecodingError {
        CWMPDecodingError(
            kind, message, line: line, cwmpID: cwmpID ?? self.cwmpID, method: method ?? self.method, namespace: namespace ?? self.namespace)
    }

    public var description: String {
        var out = message
        if let method { out = "\(method): " + out }
        if let line, line > 0 { out += " (line \(line))" }
        return out
    }
}
