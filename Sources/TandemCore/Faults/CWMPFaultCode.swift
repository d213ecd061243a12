/// A CWMP fault code (TR-069 Amendment 6, A.5; cwmp-1-2.xsd / cwmp-1-4.xsd).
///
/// An open set: every integer is representable, named codes are statics, and the ranges are
/// patterns, so `switch code { case .cpeVendor: ...; case .invalidParameterName: ... }` works in the
/// style of GRDB's `ResultCode`.
public struct CWMPFaultCode: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public init(_ rawValue: Int) { self.rawValue = rawValue }

    // ACS fault codes, returned by the ACS to CPE requests: 8000-8006 defined, 8800-8899 vendor.
    public static let acsMethodNotSupported = Self(8000)
    public static let acsRequestDenied = Self(8001)
    public static let acsInternalError = Self(8002)
    public static let acsInvalidArguments = Self(8003)
    public static let acsResourcesExceeded = Self(8004)
    public static let acsRetryRequest = Self(8005)
    public static let acsVersionIncompatible = Self(8006)

    // CPE fault codes: 9000-9032 defined, 9033-9799 reserved, 9800-9899 vendor.
    public static let methodNotSupported = Self(9000)
    public static let requestDenied = Self(9001)
    public static let internalError = Self(9002)
    public static let invalidArguments = Self(9003)
    public static let resourcesExceeded = Self(9004)
    public static let invalidParameterName = Self(9005)
    public static let invalidParameterType = Self(9006)
    public static let invalidParameterValue = Self(9007)
    public static let notWritable = Self(9008)
    public static let notificationRejected = Self(9009)
    public static let fileTransferFailure = Self(9010)
    public static let uploadFailure = Self(9011)
    public static let fileTransferAuthenticationFailure = Self(9012)
    public static let unsupportedTransferProtocol = Self(9013)
    public static let multicastJoinFailure = Self(9014)
    public static let fileServerUnreachable = Self(9015)
    public static let fileAccessFailure = Self(9016)
    public static let downloadIncomplete = Self(9017)
    public static let fileCorrupted = Self(9018)
    public static let fileAuthenticationFailure = Self(9019)
    public static let downloadWindowMissed = Self(9020)
    public static let cancelNotPermitted = Self(9021)
    public static let invalidUUID = Self(9022)
    public static let unknownExecutionEnvironment = Self(9023)
    public static let disabledExecutionEnvironment = Self(9024)
    public static let deploymentUnitMismatch = Self(9025)
    public static let duplicateDeploymentUnit = Self(9026)
    public static let systemResourcesExceeded = Self(9027)
    public static let unknownDeploymentUnit = Self(9028)
    public static let invalidDeploymentUnitState = Self(9029)
    public static let downgradeNotPermitted = Self(9030)
    public static let versionNotSpecified = Self(9031)
    public static let versionExists = Self(9032)

    /// Range patterns; use them in `switch` or with `~=`.
    public static let acsRange: ClosedRange<Int> = 8000...8899
    public static let acsVendorRange: ClosedRange<Int> = 8800...8899
    public static let cpeRange: ClosedRange<Int> = 9000...9899
    public static let cpeVendorRange: ClosedRange<Int> = 9800...9899

    public var isACSFault: Bool { Self.acsRange.contains(rawValue) }
    public var isCPEFault: Bool { Self.cpeRange.contains(rawValue) }
    public var isVendor: Bool { Self.acsVendorRange.contains(rawValue) || Self.cpeVendorRange.contains(rawValue) }
    /// Codes the schemas define (8000-8006, 9000-9032) or reserve for vendors.
    public var isValid: Bool {
        (8000...8006).contains(rawValue) || (9000...9032).contains(rawValue) || isVendor
    }

    /// The schema's short text for a defined code.
    public var name: String {
        switch rawValue {
        case 8000, 9000: "Method not supported"
        case 8001, 9001: "Request denied"
        case 8002, 9002: "Internal error"
        case 8003, 9003: "Invalid arguments"
        case 8004, 9004: "Resources exceeded"
        case 8005: "Retry request"
        case 8006: "ACS version incompatible with CPE"
        case 9005: "Invalid parameter name"
        case 9006: "Invalid parameter type"
        case 9007: "Invalid parameter value"
        case 9008: "Attempt to set a non-writable parameter"
        case 9009: "Notification request rejected"
        case 9010: "File transfer failure"
        case 9011: "Upload failure"
        case 9012: "File transfer server authentication failure"
        case 9013: "Unsupported protocol for file transfer"
        case 9014: "File transfer failure: unable to join multicast group"
        case 9015: "File transfer failure: unable to contact file server"
        case 9016: "File transfer failure: unable to access file"
        case 9017: "File transfer failure: unable to complete download"
        case 9018: "File transfer failure: file corrupted or otherwise unusable"
        case 9019: "File transfer failure: file authentication failure"
        case 9020: "File transfer failure: unable to complete download within specified time windows"
        case 9021: "Cancelation of file transfer not permitted in current transfer state"
        case 9022: "Invalid UUID format"
        case 9023: "Unknown Execution Environment"
        case 9024: "Disabled Execution Environment"
        case 9025: "Deployment Unit to Execution Environment mismatch"
        case 9026: "Duplicate Deployment Unit"
        case 9027: "System resources exceeded"
        case 9028: "Unknown Deployment Unit"
        case 9029: "Invalid Deployment Unit state"
        case 9030: "Invalid Deployment Unit update: downgrade not permitted"
        case 9031: "Invalid Deployment Unit update: version not specified"
        case 9032: "Invalid Deployment Unit update: version already exists"
        case 8800...8899, 9800...9899: "Vendor-specific fault"
        default: "Unknown fault"
        }
    }

    /// The neutral family of this code.
    public var category: FaultCategory {
        switch rawValue {
        case 8000, 9000: .notSupported
        case 8001, 9001: .requestDenied
        case 8002, 9002: .internalError
        case 8003, 9003: .invalidArguments
        case 8004, 9004, 9027: .resourcesExceeded
        case 8005, 8006: .protocolError
        case 9005: .invalidPath
        case 9006: .invalidType
        case 9007, 9009: .invalidValue
        case 9008: .notWritable
        case 9010...9021: .transferFailure
        case 9022...9026, 9028...9032: .deploymentUnitFailure
        case 8800...8899, 9800...9899: .vendor
        default: .unknown
        }
    }

    public var description: String { "\(rawValue) \(name)" }

    public static func ~= (pattern: ClosedRange<Int>, code: CWMPFaultCode) -> Bool { pattern.contains(code.rawValue) }

    public init(from decoder: any Decoder) throws { self.init(try decoder.singleValueContainer().decode(Int.self)) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
