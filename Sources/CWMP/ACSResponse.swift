/// The ACS's response to a CPE request (TR-069 A.3.3, A.4.2). Cases are named after the request
/// they answer.
public enum ACSResponse: Hashable, Sendable {
    /// InformResponse. TR-069 A.3.3.1: MaxEnvelopes MUST be 1 (multiple envelopes are not used).
    case inform(maxEnvelopes: UInt32)
    case transferComplete
    case autonomousTransferComplete
    /// The methods the ACS supports.
    case getRPCMethods(methods: [String])
    case requestDownload
    case duStateChangeComplete
    case autonomousDUStateChangeComplete
    /// KickedResponse: the URL the CPE redirects the customer's browser to.
    case kicked(nextURL: String)

    /// The RPC element name (`InformResponse`, ...).
    public var methodName: String {
        switch self {
        case .inform: "InformResponse"
        case .transferComplete: "TransferCompleteResponse"
        case .autonomousTransferComplete: "AutonomousTransferCompleteResponse"
        case .getRPCMethods: "GetRPCMethodsResponse"
        case .requestDownload: "RequestDownloadResponse"
        case .duStateChangeComplete: "DUStateChangeCompleteResponse"
        case .autonomousDUStateChangeComplete: "AutonomousDUStateChangeCompleteResponse"
        case .kicked: "KickedResponse"
        }
    }

    /// The CPE-to-ACS methods Tandem implements, the answer to a CPE's GetRPCMethods.
    public static let acsMethods: [String] = [
        "Inform", "GetRPCMethods", "TransferComplete", "AutonomousTransferComplete", "RequestDownload",
        "Kicked", "DUStateChangeComplete", "AutonomousDUStateChangeComplete",
    ]
}
