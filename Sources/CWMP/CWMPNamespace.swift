/// The XML namespace of the CWMP RPC and header elements.
///
/// Only `urn:dslforum-org:cwmp-1-0`, `-1-1` and `-1-2` are defined by the Broadband Forum (cwmp-1-3.xsd
/// and cwmp-1-4.xsd keep `-1-2`). CPEs in the field also send the unofficial `-1-3` and `-1-4`, so every
/// `urn:dslforum-org:cwmp-1-N` is accepted. An ACS answers in the namespace the CPE used for the
/// whole session: some CPEs hang up otherwise (protocol digest A.11).
public struct CWMPNamespace: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    /// cwmp-1-0.xsd (TR-069 Amendment 1); the most common in the field and the default.
    public static let v1_0 = Self(rawValue: "urn:dslforum-org:cwmp-1-0")
    /// cwmp-1-1.xsd (Amendment 2).
    public static let v1_1 = Self(rawValue: "urn:dslforum-org:cwmp-1-1")
    /// cwmp-1-2.xsd (Amendment 3), also used by CWMP 1.3 and 1.4.
    public static let v1_2 = Self(rawValue: "urn:dslforum-org:cwmp-1-2")
    /// Not defined by the Broadband Forum, sent by some CPEs; accepted and echoed, never chosen.
    public static let v1_3 = Self(rawValue: "urn:dslforum-org:cwmp-1-3")
    /// Not defined by the Broadband Forum, sent by some CPEs; accepted and echoed, never chosen.
    public static let v1_4 = Self(rawValue: "urn:dslforum-org:cwmp-1-4")

    static let prefix = "urn:dslforum-org:cwmp-1-"

    /// Accepts `urn:dslforum-org:cwmp-1-N` for any decimal N; nil otherwise.
    public init?(uri: String) {
        guard uri.hasPrefix(Self.prefix) else { return nil }
        let minor = uri.utf8.dropFirst(Self.prefix.utf8.count)
        guard !minor.isEmpty, minor.count <= 3, minor.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        self.rawValue = uri
    }

    /// N in `urn:dslforum-org:cwmp-1-N`.
    public var minorVersion: Int? {
        guard rawValue.hasPrefix(Self.prefix) else { return nil }
        return Int(rawValue.dropFirst(Self.prefix.count))
    }

    /// True for the three namespaces the schemas define.
    public var isDefined: Bool { self == .v1_0 || self == .v1_1 || self == .v1_2 }

    public var description: String { rawValue }
}

/// Well-known namespace URIs of SOAP 1.1 and XML Schema.
enum XMLNamespaces {
    static let soapEnvelope = "http://schemas.xmlsoap.org/soap/envelope/"
    static let soapEncoding = "http://schemas.xmlsoap.org/soap/encoding/"
    static let soap12Envelope = "http://www.w3.org/2003/05/soap-envelope"
    static let xsd = "http://www.w3.org/2001/XMLSchema"
    static let xsi = "http://www.w3.org/2001/XMLSchema-instance"
}
