/// One SOAP envelope of a CWMP session: the header elements and the body (TR-069 A.2, A.3; protocol
/// digest A.1).
public struct CWMPEnvelope: Hashable, Sendable {
    /// `cwmp:ID`: correlates a response with its request; the response echoes it.
    public var cwmpID: String?
    /// `cwmp:HoldRequests`, sent by the ACS only: true forbids CPE requests in the next POST.
    public var holdRequests: Bool?
    /// `cwmp:SessionTimeout` (CWMP 1.3), seconds, sent by the CPE in the Inform.
    public var sessionTimeout: UInt32?
    /// `cwmp:SupportedCWMPVersions` (CWMP 1.4), sent by the CPE in the Inform: `["1.0", ..., "1.4"]`.
    public var supportedCWMPVersions: [String]?
    /// `cwmp:UseCWMPVersion` (CWMP 1.4), sent by the ACS in the InformResponse.
    public var useCWMPVersion: String?
    /// The cwmp namespace of the RPC and header elements; an ACS replies in the one the CPE used.
    public var namespace: CWMPNamespace
    public var body: CWMPBody
    /// Oddities tolerated while decoding. Always empty for an envelope built in code.
    public var warnings: [CWMPDecodeWarning]

    public init(
        cwmpID: String? = nil, holdRequests: Bool? = nil, sessionTimeout: UInt32? = nil, supportedCWMPVersions: [String]? = nil,
        useCWMPVersion: String? = nil, namespace: CWMPNamespace = .v1_0, body: CWMPBody, warnings: [CWMPDecodeWarning] = []
    ) {
        self.cwmpID = cwmpID
        self.holdRequests = holdRequests
        self.sessionTimeout = sessionTimeout
        self.supportedCWMPVersions = supportedCWMPVersions
        self.useCWMPVersion = useCWMPVersion
        self.namespace = namespace
        self.body = body
        self.warnings = warnings
    }

    /// The Inform this envelope carries, if it carries one.
    public var inform: CPERequest.Inform? {
        if case .cpeRequest(.inform(let inform)) = body { inform } else { nil }
    }
}

/// The body of an envelope: exactly one RPC element or a fault.
///
/// Which enum a message decodes into depends on who sent it: `GetRPCMethods` is a `CPERequest` from a
/// CPE and an `ACSRequest` from an ACS (see `CWMPDecoder.Sender`).
public enum CWMPBody: Hashable, Sendable {
    case cpeRequest(CPERequest)
    case acsResponse(ACSResponse)
    case acsRequest(ACSRequest)
    case cpeResponse(CPEResponse)
    case fault(CWMPFault)
    /// A cwmp element that names no method the receiver implements (a vendor extension, or a method
    /// sent in the wrong direction). An ACS answers a request it cannot handle with fault 8000.
    case unknownMethod(String)

    /// The RPC element name, `Fault` for a fault.
    public var methodName: String {
        switch self {
        case .cpeRequest(let request): request.methodName
        case .acsResponse(let response): response.methodName
        case .acsRequest(let request): request.methodName
        case .cpeResponse(let response): response.methodName
        case .fault: "Fault"
        case .unknownMethod(let name): name
        }
    }
}

/// Something unusual the decoder tolerated. Warnings never change the decoded content beyond what
/// they describe.
public enum CWMPDecodeWarning: Hashable, Sendable, CustomStringConvertible {
    /// A parameter appeared more than once in a list; the last value was kept.
    case duplicateParameter(String)
    /// A value's `xsi:type` named no TR-106 type, or the text did not parse as that type; kept as a
    /// string.
    case valueKeptAsString(parameter: String, declaredType: String)
    /// A dateTime field did not parse; its text was kept.
    case malformedDateTime(field: String, text: String)
    /// A `soapenc:arrayType` count differed from the number of elements.
    case arrayCountMismatch(element: String, declared: Int, actual: Int)
    /// A header element that is obsolete or unknown (`NoMoreRequests`) was ignored.
    case ignoredHeader(String)
    /// A SOAP Fault without a `cwmp:Fault` detail; mapped to an internal-error fault (9002 from a
    /// CPE, 8002 from an ACS) carrying the SOAP faultstring.
    case faultWithoutDetail

    public var description: String {
        switch self {
        case .duplicateParameter(let name): "parameter \(name) appears more than once; the last value was kept"
        case .valueKeptAsString(let name, let type): "value of \(name) kept as a string (declared type \(type))"
        case .malformedDateTime(let field, let text): "\(field) \"\(text)\" is not a valid dateTime; kept as text"
        case .arrayCountMismatch(let element, let declared, let actual):
            "\(element) declares \(declared) elements but has \(actual)"
        case .ignoredHeader(let name): "header \(name) ignored"
        case .faultWithoutDetail: "SOAP Fault without a cwmp:Fault detail"
        }
    }
}
