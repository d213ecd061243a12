import TandemCore

/// A request a CPE sends to the ACS (TR-069 A.3.3, A.4.2; cwmp-1-2.xsd, cwmp-1-4.xsd).
public enum CPERequest: Hashable, Sendable {
    /// A.3.3.1: the first message of every session.
    case inform(Inform)
    /// A.3.3.2: a Download, Upload or ScheduleDownload requested by the ACS has finished.
    case transferComplete(TransferComplete)
    /// A.3.3.3: a transfer the ACS did not request has finished.
    case autonomousTransferComplete(AutonomousTransferComplete)
    /// A.3.1.1: the CPE asks which methods the ACS supports.
    case getRPCMethods
    /// A.4.2.2: the CPE asks the ACS to start a download.
    case requestDownload(RequestDownload)
    /// A ChangeDUState requested by the ACS has finished.
    case duStateChangeComplete(DUStateChangeComplete)
    /// Deployment-unit changes the ACS did not request have finished.
    case autonomousDUStateChangeComplete(AutonomousDUStateChangeComplete)
    /// A.4.2.1: a web-identity "kick" (a customer's browser was redirected through the CPE).
    case kicked(Kicked)

    /// The RPC element name.
    public var methodName: String {
        switch self {
        case .inform: "Inform"
        case .transferComplete: "TransferComplete"
        case .autonomousTransferComplete: "AutonomousTransferComplete"
        case .getRPCMethods: "GetRPCMethods"
        case .requestDownload: "RequestDownload"
        case .duStateChangeComplete: "DUStateChangeComplete"
        case .autonomousDUStateChangeComplete: "AutonomousDUStateChangeComplete"
        case .kicked: "Kicked"
        }
    }

    /// Every CPE-to-ACS method name.
    public static let methodNames: [String] = [
        "Inform", "TransferComplete", "AutonomousTransferComplete", "GetRPCMethods", "RequestDownload",
        "DUStateChangeComplete", "AutonomousDUStateChangeComplete", "Kicked",
    ]

    /// True when `response` is the response this request calls for (same method, `Response` suffix).
    public func isAnswered(by response: ACSResponse) -> Bool { response.methodName == methodName + "Response" }

    /// The response an ACS that has nothing to add gives: empty for most requests, InformResponse
    /// with MaxEnvelopes 1, the given method list for GetRPCMethods, an empty NextURL for Kicked.
    public func defaultResponse(acsMethods: [String] = ACSResponse.acsMethods) -> ACSResponse {
        switch self {
        case .inform: .inform(maxEnvelopes: 1)
        case .transferComplete: .transferComplete
        case .autonomousTransferComplete: .autonomousTransferComplete
        case .getRPCMethods: .getRPCMethods(methods: acsMethods)
        case .requestDownload: .requestDownload
        case .duStateChangeComplete: .duStateChangeComplete
        case .autonomousDUStateChangeComplete: .autonomousDUStateChangeComplete
        case .kicked: .kicked(nextURL: "")
        }
    }
}

extension CPERequest {
    /// Inform (TR-069 A.3.3.1).
    public struct Inform: Hashable, Sendable {
        /// `DeviceIdStruct`, validated; lower-case OUIs are upper-cased.
        public var deviceID: CWMPDeviceID
        /// At most 64 events.
        public var events: [CWMPEvent]
        /// Envelopes the CPE accepts per HTTP response; 1 in practice.
        public var maxEnvelopes: UInt32
        /// The CPE's clock, kept as received (often zone-less or malformed).
        public var currentTime: CWMPTime
        /// Retries before this Inform; 0 on the first attempt (TR-069 3.2.1.1).
        public var retryCount: UInt32
        /// Forced-inform and notified parameters. A duplicated name keeps its last value.
        public var parameters: [CWMPParameterValue]

        public init(
            deviceID: CWMPDeviceID, events: [CWMPEvent], maxEnvelopes: UInt32 = 1, currentTime: CWMPTime,
            retryCount: UInt32 = 0, parameters: [CWMPParameterValue] = []
        ) {
            self.deviceID = deviceID
            self.events = events
            self.maxEnvelopes = maxEnvelopes
            self.currentTime = currentTime
            self.retryCount = retryCount
            self.parameters = parameters
        }

        /// True when `code` is among the events.
        public func has(_ code: CWMPEventCode) -> Bool { events.contains { $0.code == code } }

        /// The value reported for `name`, if any.
        public func value(of name: String) -> TypedValue? {
            parameters.last(where: { $0.name == name })?.value
        }

        /// `InternetGatewayDevice` (TR-098) or `Device` (TR-106/TR-181), from the first parameter
        /// name (TR-069 A.10 in the digest); nil when the Inform carries no parameters.
        public var dataModelRoot: String? {
            guard let first = parameters.first?.name, let dot = first.firstIndex(of: ".") else { return nil }
            return String(first[..<dot])
        }
    }

    /// TransferComplete (TR-069 A.3.3.2).
    public struct TransferComplete: Hashable, Sendable {
        public var commandKey: String
        /// Code 0 on success; otherwise 9001, 9002, 9010-9020 or a vendor code.
        public var fault: CWMPTransferFault
        public var startTime: CWMPTime
        public var completeTime: CWMPTime

        public init(commandKey: String, fault: CWMPTransferFault = .success, startTime: CWMPTime, completeTime: CWMPTime) {
            self.commandKey = commandKey
            self.fault = fault
            self.startTime = startTime
            self.completeTime = completeTime
        }
    }

    /// AutonomousTransferComplete (TR-069 A.3.3.3).
    public struct AutonomousTransferComplete: Hashable, Sendable {
        public var announceURL: String
        public var transferURL: String
        public var isDownload: Bool
        public var fileType: String
        public var fileSize: UInt32
        public var targetFileName: String
        public var fault: CWMPTransferFault
        public var startTime: CWMPTime
        public var completeTime: CWMPTime

        public init(
            announceURL: String = "", transferURL: String, isDownload: Bool, fileType: String, fileSize: UInt32,
            targetFileName: String = "", fault: CWMPTransferFault = .success, startTime: CWMPTime, completeTime: CWMPTime
        ) {
            self.announceURL = announceURL
            self.transferURL = transferURL
            self.isDownload = isDownload
            self.fileType = fileType
            self.fileSize = fileSize
            self.targetFileName = targetFileName
            self.fault = fault
            self.startTime = startTime
            self.completeTime = completeTime
        }
    }

    /// RequestDownload (TR-069 A.4.2.2).
    public struct RequestDownload: Hashable, Sendable {
        /// `ArgStruct`: a name (64) and a value (256).
        public struct Argument: Hashable, Sendable {
            public var name: String
            public var value: String
            public init(name: String, value: String) {
                self.name = name
                self.value = value
            }
        }

        public var fileType: String
        /// At most 16 arguments.
        public var fileTypeArguments: [Argument]

        public init(fileType: String, fileTypeArguments: [Argument] = []) {
            self.fileType = fileType
            self.fileTypeArguments = fileTypeArguments
        }
    }

    /// The result of one deployment-unit operation (`OpResultStruct`, `AutonOpResultStruct`).
    public struct DUOperationResult: Hashable, Sendable {
        public var uuid: String
        public var deploymentUnitRef: String
        public var version: String
        /// `Installed`, `Uninstalled` or `Failed`.
        public var currentState: String
        public var resolved: Bool
        /// Comma-separated references to the execution units.
        public var executionUnitRefList: String
        public var startTime: CWMPTime
        public var completeTime: CWMPTime
        public var fault: CWMPTransferFault
        /// `Install`, `Update`, `Uninstall` or a vendor operation; only in
        /// AutonomousDUStateChangeComplete.
        public var operationPerformed: String?

        public init(
            uuid: String, deploymentUnitRef: String = "", version: String = "", currentState: String,
            resolved: Bool, executionUnitRefList: String = "", startTime: CWMPTime, completeTime: CWMPTime,
            fault: CWMPTransferFault = .success, operationPerformed: String? = nil
        ) {
            self.uuid = uuid
            self.deploymentUnitRef = deploymentUnitRef
            self.version = version
            self.currentState = currentState
            self.resolved = resolved
            self.executionUnitRefList = executionUnitRefList
            self.startTime = startTime
            self.completeTime = completeTime
            self.fault = fault
            self.operationPerformed = operationPerformed
        }
    }

    /// DUStateChangeComplete (cwmp-1-2.xsd): `Results` is a repeated element, not a SOAP array.
    public struct DUStateChangeComplete: Hashable, Sendable {
        public var results: [DUOperationResult]
        /// Optional in the schema.
        public var commandKey: String?

        public init(results: [DUOperationResult], commandKey: String? = nil) {
            self.results = results
            self.commandKey = commandKey
        }
    }

    /// AutonomousDUStateChangeComplete (cwmp-1-2.xsd).
    public struct AutonomousDUStateChangeComplete: Hashable, Sendable {
        public var results: [DUOperationResult]

        public init(results: [DUOperationResult]) { self.results = results }
    }

    /// Kicked (TR-069 A.4.2.1).
    public struct Kicked: Hashable, Sendable {
        public var command: String
        public var referer: String
        public var argument: String
        public var next: String

        public init(command: String, referer: String, argument: String, next: String) {
            self.command = command
            self.referer = referer
            self.argument = argument
            self.next = next
        }
    }
}
