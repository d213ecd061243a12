import TandemCore

/// A CWMP fault: a SOAP `Fault` whose `detail` holds a `cwmp:Fault` (TR-069 A.5; cwmp-1-2.xsd
/// `Fault`). A CPE answers an ACS request with one (codes 9000-9899); the ACS answers a CPE request
/// with one (codes 8000-8899).
public struct CWMPFault: Error, Hashable, Sendable, CustomStringConvertible {
    /// One entry of a SetParameterValues fault: which parameter failed and why.
    public struct ParameterFault: Hashable, Sendable {
        public var parameterName: String
        public var code: CWMPFaultCode
        public var message: String

        public init(parameterName: String, code: CWMPFaultCode, message: String? = nil) {
            self.parameterName = parameterName
            self.code = code
            self.message = message ?? code.name
        }
    }

    public var code: CWMPFaultCode
    /// `FaultString`.
    public var message: String
    /// `SetParameterValuesFault` entries; only in a fault answering SetParameterValues.
    public var parameterFaults: [ParameterFault]
    /// SOAP `faultcode`: `Client` when the request was at fault, `Server` when the responder was.
    public var soapFaultCode: String
    /// SOAP `faultstring`, `CWMP fault` by convention.
    public var soapFaultString: String

    public init(
        code: CWMPFaultCode, message: String? = nil, parameterFaults: [ParameterFault] = [], soapFaultCode: String? = nil,
        soapFaultString: String = "CWMP fault"
    ) {
        self.code = code
        self.message = message ?? code.name
        self.parameterFaults = parameterFaults
        self.soapFaultCode = soapFaultCode ?? Self.defaultSOAPFaultCode(for: code)
        self.soapFaultString = soapFaultString
    }

    /// `Server` for faults of the responder itself (internal error, resources exceeded, retry),
    /// `Client` for faults caused by the request.
    public static func defaultSOAPFaultCode(for code: CWMPFaultCode) -> String {
        switch code.rawValue {
        case 8002, 8004, 8005, 9002, 9004, 9027: "Server"
        default: "Client"
        }
    }

    /// The neutral fault for the whole operation.
    public var fault: Fault { Fault(cwmp: code, message: message) }

    public var description: String {
        var out = "CWMP fault \(code.rawValue) \(message)"
        for entry in parameterFaults { out += "; \(entry.parameterName): \(entry.code.rawValue) \(entry.message)" }
        return out
    }
}
