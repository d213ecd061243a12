/// A CPE's response to an ACS request (TR-069 A.3.1, A.3.2, A.4.1). Cases are named after the
/// request they answer.
public enum CPEResponse: Hashable, Sendable {
    case getRPCMethods(methods: [String])
    case getParameterNames(parameters: [CWMPParameterInfo])
    /// Values with their types; a duplicated name keeps its last value.
    case getParameterValues(parameters: [CWMPParameterValue])
    /// Status 0: all changes applied; 1: validated and committed, some not yet applied (for example
    /// until a reboot) (A.3.2.1).
    case setParameterValues(status: Int)
    case getParameterAttributes(parameters: [CWMPParameterAttribute])
    case setParameterAttributes
    /// The new instance number and Status 0/1 (A.3.2.6).
    case addObject(instanceNumber: UInt32, status: Int)
    case deleteObject(status: Int)
    case reboot
    case factoryReset
    case download(TransferStatus)
    case upload(TransferStatus)
    case scheduleInform
    case scheduleDownload
    case cancelTransfer
    case changeDUState
    case getQueuedTransfers(transfers: [QueuedTransfer])
    case getAllQueuedTransfers(transfers: [AllQueuedTransfer])
    case setVouchers
    case getOptions(options: [Option])

    /// The RPC element name (`GetParameterValuesResponse`, ...).
    public var methodName: String {
        switch self {
        case .getRPCMethods: "GetRPCMethodsResponse"
        case .getParameterNames: "GetParameterNamesResponse"
        case .getParameterValues: "GetParameterValuesResponse"
        case .setParameterValues: "SetParameterValuesResponse"
        case .getParameterAttributes: "GetParameterAttributesResponse"
        case .setParameterAttributes: "SetParameterAttributesResponse"
        case .addObject: "AddObjectResponse"
        case .deleteObject: "DeleteObjectResponse"
        case .reboot: "RebootResponse"
        case .factoryReset: "FactoryResetResponse"
        case .download: "DownloadResponse"
        case .upload: "UploadResponse"
        case .scheduleInform: "ScheduleInformResponse"
        case .scheduleDownload: "ScheduleDownloadResponse"
        case .cancelTransfer: "CancelTransferResponse"
        case .changeDUState: "ChangeDUStateResponse"
        case .getQueuedTransfers: "GetQueuedTransfersResponse"
        case .getAllQueuedTransfers: "GetAllQueuedTransfersResponse"
        case .setVouchers: "SetVouchersResponse"
        case .getOptions: "GetOptionsResponse"
        }
    }
}

extension CPEResponse {
    /// DownloadResponse / UploadResponse (A.3.2.8, A.4.1.5).
    public struct TransferStatus: Hashable, Sendable {
        /// 0: the transfer completed (and was applied); 1: not yet, a TransferComplete follows.
        public var status: Int
        /// Meaningful only when `status` is 0; otherwise the Unknown Time.
        public var startTime: CWMPTime
        public var completeTime: CWMPTime

        public init(status: Int, startTime: CWMPTime = .unknown, completeTime: CWMPTime = .unknown) {
            self.status = status
            self.startTime = startTime
            self.completeTime = completeTime
        }

        /// True when a TransferComplete will follow in a later session.
        public var completesLater: Bool { status == 1 }
    }

    /// `QueuedTransferStruct` (A.4.1.1).
    public struct QueuedTransfer: Hashable, Sendable {
        public var commandKey: String
        /// 1 not yet started, 2 in progress, 3 completed.
        public var state: Int

        public init(commandKey: String, state: Int) {
            self.commandKey = commandKey
            self.state = state
        }
    }

    /// `AllQueuedTransferStruct` (A.4.1.7).
    public struct AllQueuedTransfer: Hashable, Sendable {
        public var commandKey: String
        public var state: Int
        public var isDownload: Bool
        public var fileType: String
        public var fileSize: UInt32
        public var targetFileName: String

        public init(commandKey: String, state: Int, isDownload: Bool, fileType: String, fileSize: UInt32 = 0, targetFileName: String = "") {
            self.commandKey = commandKey
            self.state = state
            self.isDownload = isDownload
            self.fileType = fileType
            self.fileSize = fileSize
            self.targetFileName = targetFileName
        }
    }

    /// `OptionStruct` (A.4.1.4).
    public struct Option: Hashable, Sendable {
        public var optionName: String
        public var voucherSN: UInt32
        /// Bit 0 enabled, bit 1 setup (0-3).
        public var state: UInt32
        /// 0 disabled, 1 enabled with expiration, 2 enabled without expiration.
        public var mode: Int
        public var startDate: CWMPTime
        /// Absent for options without expiration.
        public var expirationDate: CWMPTime?
        /// 0 or 1.
        public var isTransferable: Int

        public init(
            optionName: String, voucherSN: UInt32, state: UInt32, mode: Int, startDate: CWMPTime,
            expirationDate: CWMPTime? = nil, isTransferable: Int = 0
        ) {
            self.optionName = optionName
            self.voucherSN = voucherSN
            self.state = state
            self.mode = mode
            self.startDate = startDate
            self.expirationDate = expirationDate
            self.isTransferable = isTransferable
        }
    }
}
