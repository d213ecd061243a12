import TandemCore

/// A request the ACS sends to a CPE (TR-069 A.3.1, A.3.2, A.4.1; cwmp-1-2.xsd).
public enum ACSRequest: Hashable, Sendable {
    /// A.3.1.1.
    case getRPCMethods
    /// A.3.2.3: names below `path` (a partial path ending in `.`, or empty for the root);
    /// `nextLevel` limits the answer to the immediate children.
    case getParameterNames(path: String, nextLevel: Bool)
    /// A.3.2.2: parameter names or partial paths.
    case getParameterValues(names: [String])
    /// A.3.2.1: an atomic write. `parameterKey` (at most 32 characters) becomes
    /// `ManagementServer.ParameterKey` when the write succeeds.
    case setParameterValues(parameters: [CWMPParameterValue], parameterKey: String)
    /// A.3.2.5.
    case getParameterAttributes(names: [String])
    /// A.3.2.4: at least one entry.
    case setParameterAttributes(parameters: [CWMPSetParameterAttribute])
    /// A.3.2.6: `objectName` ends in `.`.
    case addObject(objectName: String, parameterKey: String)
    /// A.3.2.7: `objectName` is an instance path ending in `.`.
    case deleteObject(objectName: String, parameterKey: String)
    /// A.3.2.9.
    case reboot(commandKey: String)
    /// A.4.1.6.
    case factoryReset
    /// A.3.2.8.
    case download(Download)
    /// A.4.1.5.
    case upload(Upload)
    /// A.4.1.2.
    case scheduleInform(delaySeconds: UInt32, commandKey: String)
    /// A.4.1.8.
    case scheduleDownload(ScheduleDownload)
    /// A.4.1.9.
    case cancelTransfer(commandKey: String)
    /// Software module management (cwmp-1-2.xsd ChangeDUState).
    case changeDUState(ChangeDUState)
    /// A.4.1.1 (deprecated by GetAllQueuedTransfers).
    case getQueuedTransfers
    /// A.4.1.7.
    case getAllQueuedTransfers
    /// A.4.1.3: signed vouchers, each a base64 blob.
    case setVouchers(vouchers: [[UInt8]])
    /// A.4.1.4: an option name, or empty for all.
    case getOptions(optionName: String)

    /// The RPC element name.
    public var methodName: String {
        switch self {
        case .getRPCMethods: "GetRPCMethods"
        case .getParameterNames: "GetParameterNames"
        case .getParameterValues: "GetParameterValues"
        case .setParameterValues: "SetParameterValues"
        case .getParameterAttributes: "GetParameterAttributes"
        case .setParameterAttributes: "SetParameterAttributes"
        case .addObject: "AddObject"
        case .deleteObject: "DeleteObject"
        case .reboot: "Reboot"
        case .factoryReset: "FactoryReset"
        case .download: "Download"
        case .upload: "Upload"
        case .scheduleInform: "ScheduleInform"
        case .scheduleDownload: "ScheduleDownload"
        case .cancelTransfer: "CancelTransfer"
        case .changeDUState: "ChangeDUState"
        case .getQueuedTransfers: "GetQueuedTransfers"
        case .getAllQueuedTransfers: "GetAllQueuedTransfers"
        case .setVouchers: "SetVouchers"
        case .getOptions: "GetOptions"
        }
    }

    /// Every ACS-to-CPE method name.
    public static let methodNames: [String] = [
        "GetRPCMethods", "GetParameterNames", "GetParameterValues", "SetParameterValues", "GetParameterAttributes",
        "SetParameterAttributes", "AddObject", "DeleteObject", "Reboot", "FactoryReset", "Download", "Upload",
        "ScheduleInform", "ScheduleDownload", "CancelTransfer", "ChangeDUState", "GetQueuedTransfers",
        "GetAllQueuedTransfers", "SetVouchers", "GetOptions",
    ]

    /// True when `response` is the response this request calls for (TR-069 A.3.1: the response
    /// element is the request name with `Response` appended).
    public func isAnswered(by response: CPEResponse) -> Bool { response.methodName == methodName + "Response" }
}

extension ACSRequest {
    /// Download (TR-069 A.3.2.8).
    public struct Download: Hashable, Sendable {
        public var commandKey: String
        /// `1 Firmware Upgrade Image`, `2 Web Content`, `3 Vendor Configuration File`, ...
        public var fileType: String
        public var url: String
        public var username: String
        public var password: String
        public var fileSize: UInt32
        public var targetFileName: String
        public var delaySeconds: UInt32
        public var successURL: String
        public var failureURL: String

        public init(
            commandKey: String = "", fileType: String, url: String, username: String = "", password: String = "",
            fileSize: UInt32 = 0, targetFileName: String = "", delaySeconds: UInt32 = 0, successURL: String = "",
            failureURL: String = ""
        ) {
            self.commandKey = commandKey
            self.fileType = fileType
            self.url = url
            self.username = username
            self.password = password
            self.fileSize = fileSize
            self.targetFileName = targetFileName
            self.delaySeconds = delaySeconds
            self.successURL = successURL
            self.failureURL = failureURL
        }

        /// The Download for a neutral file transfer.
        public init(_ transfer: FileTransfer) {
            self.init(
                commandKey: transfer.commandKey ?? "", fileType: transfer.kind.cwmpFileType(upload: false), url: transfer.url,
                username: transfer.username ?? "", password: transfer.password ?? "", fileSize: transfer.fileSize ?? 0,
                targetFileName: transfer.targetFileName ?? "", delaySeconds: transfer.delaySeconds)
        }
    }

    /// Upload (TR-069 A.4.1.5).
    public struct Upload: Hashable, Sendable {
        public var commandKey: String
        /// `1 Vendor Configuration File`, `2 Vendor Log File`, ...
        public var fileType: String
        public var url: String
        public var username: String
        public var password: String
        public var delaySeconds: UInt32

        public init(
            commandKey: String = "", fileType: String, url: String, username: String = "", password: String = "",
            delaySeconds: UInt32 = 0
        ) {
            self.commandKey = commandKey
            self.fileType = fileType
            self.url = url
            self.username = username
            self.password = password
            self.delaySeconds = delaySeconds
        }

        /// The Upload for a neutral file transfer.
        public init(_ transfer: FileTransfer) {
            self.init(
                commandKey: transfer.commandKey ?? "", fileType: transfer.kind.cwmpFileType(upload: true), url: transfer.url,
                username: transfer.username ?? "", password: transfer.password ?? "", delaySeconds: transfer.delaySeconds)
        }
    }

    /// `TimeWindowStruct` of ScheduleDownload.
    public struct TimeWindow: Hashable, Sendable {
        /// Seconds from the time of the request to the window's start.
        public var windowStart: UInt32
        public var windowEnd: UInt32
        /// `1 At Any Time`, `2 Immediately`, `3 When Idle`, `4 Confirmation Needed`.
        public var windowMode: String
        public var userMessage: String
        /// -1 for the CPE's default.
        public var maxRetries: Int32

        public init(windowStart: UInt32, windowEnd: UInt32, windowMode: String, userMessage: String = "", maxRetries: Int32 = -1) {
            self.windowStart = windowStart
            self.windowEnd = windowEnd
            self.windowMode = windowMode
            self.userMessage = userMessage
            self.maxRetries = maxRetries
        }
    }

    /// ScheduleDownload (TR-069 A.4.1.8).
    public struct ScheduleDownload: Hashable, Sendable {
        public var commandKey: String
        public var fileType: String
        public var url: String
        public var username: String
        public var password: String
        public var fileSize: UInt32
        public var targetFileName: String
        /// One or two windows.
        public var timeWindows: [TimeWindow]

        public init(
            commandKey: String = "", fileType: String, url: String, username: String = "", password: String = "",
            fileSize: UInt32 = 0, targetFileName: String = "", timeWindows: [TimeWindow]
        ) {
            self.commandKey = commandKey
            self.fileType = fileType
            self.url = url
            self.username = username
            self.password = password
            self.fileSize = fileSize
            self.targetFileName = targetFileName
            self.timeWindows = timeWindows
        }
    }

    /// One operation of ChangeDUState; on the wire an `Operations` element whose `xsi:type` names the
    /// concrete struct.
    public enum DUOperation: Hashable, Sendable {
        /// `InstallOpStruct`.
        case install(url: String, uuid: String = "", username: String = "", password: String = "", executionEnvRef: String = "")
        /// `UpdateOpStruct`.
        case update(uuid: String = "", version: String = "", url: String = "", username: String = "", password: String = "")
        /// `UninstallOpStruct`.
        case uninstall(uuid: String, version: String = "", executionEnvRef: String = "")

        /// The `xsi:type` local name.
        public var structName: String {
            switch self {
            case .install: "InstallOpStruct"
            case .update: "UpdateOpStruct"
            case .uninstall: "UninstallOpStruct"
            }
        }
    }

    /// ChangeDUState: `Operations` is a repeated element (one or more), not a SOAP array.
    public struct ChangeDUState: Hashable, Sendable {
        public var operations: [DUOperation]
        /// Optional in the schema.
        public var commandKey: String?

        public init(operations: [DUOperation], commandKey: String? = nil) {
            self.operations = operations
            self.commandKey = commandKey
        }
    }
}
