import TandemCore

/// Types of a CWMP session (TR-069 3.7: a sequence of HTTP POSTs from the CPE, begun by an Inform
/// and ended by the ACS's empty response). The protocol logic is `CWMPSession.StateMachine`.
public enum CWMPSession {
    public struct Configuration: Hashable, Sendable {
        /// How long the session waits for the CPE's next POST (GenieACS default: 30 s).
        public var sessionTimeout: Duration
        /// CWMP versions the ACS speaks; the highest one the CPE also lists in
        /// SupportedCWMPVersions becomes UseCWMPVersion (CWMP 1.4).
        public var supportedVersions: [String]
        /// Send `cwmp:HoldRequests` true from the start, so that the CPE sends no requests until the
        /// ACS has run its own (TR-069 A.2.1; deprecated in Amendment 6 but still supported by CPEs).
        public var holdRequests: Bool
        /// CPE requests accepted per session; further ones get fault 8004.
        public var maximumCPERequests: Int
        /// Refuse responses that do not echo `cwmp:ID`. Off by default: some CPEs omit the header.
        public var requireResponseID: Bool
        /// Prefix of the `cwmp:ID` of ACS requests.
        public var idPrefix: String

        public init(
            sessionTimeout: Duration = .seconds(30), supportedVersions: [String] = ["1.0", "1.1", "1.2", "1.3", "1.4"],
            holdRequests: Bool = false, maximumCPERequests: Int = 64, requireResponseID: Bool = false, idPrefix: String = "tandem"
        ) {
            self.sessionTimeout = sessionTimeout
            self.supportedVersions = supportedVersions
            self.holdRequests = holdRequests
            self.maximumCPERequests = maximumCPERequests
            self.requireResponseID = requireResponseID
            self.idPrefix = idPrefix
        }
    }

    /// What the session knows about the CPE once its Inform arrived.
    public struct Info: Hashable, Sendable {
        public var deviceID: CWMPDeviceID
        /// The cwmp namespace of the Inform; every message of the session uses it.
        public var namespace: CWMPNamespace
        /// The negotiated UseCWMPVersion, when the CPE sent SupportedCWMPVersions.
        public var cwmpVersion: String?
        /// The CPE's own SessionTimeout header (CWMP 1.3), seconds.
        public var cpeSessionTimeout: UInt32?
        public var events: [CWMPEvent]
        public var retryCount: UInt32
    }

    /// Why a session ended.
    public enum EndReason: Hashable, Sendable {
        /// The owner faulted the Inform with a code other than 8005.
        case informRejected(CWMPFaultCode)
        /// The CPE's SupportedCWMPVersions share no version with the ACS (fault 8006).
        case versionIncompatible
        /// A request arrived before any Inform.
        case noInform
        /// The CPE fell silent past the session timeout.
        case expired
        /// The CPE broke the protocol.
        case violation(Violation)
    }

    /// A protocol violation by the CPE (or a call the session could not accept).
    public enum Violation: Hashable, Sendable, CustomStringConvertible {
        /// A response, fault or empty POST arrived before the Inform.
        case messageBeforeInform(String)
        /// A response or fault arrived while no ACS request was outstanding.
        case unexpectedResponse(String)
        /// The response's `cwmp:ID` does not match the outstanding request's.
        case wrongResponseID(expected: String, received: String?)
        /// The response is not the one the outstanding request calls for.
        case wrongResponseType(expected: String, received: String)
        /// The CPE sent a request (or an empty POST) instead of the response it owes.
        case responseMissing(expected: String, received: String)
        /// A message arrived while the previous one was still being processed.
        case concurrentMessage(String)
        /// An ACS-side message (decoded with the wrong `CWMPDecoder.Sender`).
        case wrongDirection(String)
        /// The message could not be decoded.
        case undecodable(CWMPDecodingError)
        /// The owner called an event that does not apply in the current state; nothing changed.
        case invalidCall(String)

        public var description: String {
            switch self {
            case .messageBeforeInform(let what): "\(what) before the Inform"
            case .unexpectedResponse(let what): "\(what) while no request was outstanding"
            case .wrongResponseID(let expected, let received): "response ID \(received ?? "(none)") does not match request ID \(expected)"
            case .wrongResponseType(let expected, let received): "expected \(expected), received \(received)"
            case .responseMissing(let expected, let received): "expected \(expected), received \(received)"
            case .concurrentMessage(let what): "\(what) while the previous message was still being processed"
            case .wrongDirection(let what): "\(what) is an ACS message, not one a CPE sends"
            case .undecodable(let error): "undecodable message: \(error)"
            case .invalidCall(let what): "invalid call: \(what)"
            }
        }
    }
}
