/// A USP error code (TR-369 section 6.6 "Error Codes" and the Record errors of section 5):
/// 7000-7031 message errors, 7100-7106 record errors, 7200-7299 data-model-defined, 7800-7999 vendor.
public struct USPErrorCode: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    public static let messageFailed = Self(7000)
    public static let messageNotSupported = Self(7001)
    public static let requestDenied = Self(7002)
    public static let internalError = Self(7003)
    public static let invalidArguments = Self(7004)
    public static let resourcesExceeded = Self(7005)
    public static let permissionDenied = Self(7006)
    public static let invalidConfiguration = Self(7007)
    public static let invalidPathSyntax = Self(7008)
    public static let parameterActionFailed = Self(7009)
    public static let unsupportedParameter = Self(7010)
    public static let invalidType = Self(7011)
    public static let invalidValue = Self(7012)
    public static let notWritable = Self(7013)
    public static let valueConflict = Self(7014)
    public static let operationError = Self(7015)
    public static let objectDoesNotExist = Self(7016)
    public static let objectNotCreated = Self(7017)
    public static let notATable = Self(7018)
    public static let notCreatable = Self(7019)
    public static let objectNotUpdated = Self(7020)
    public static let requiredParameterFailed = Self(7021)
    public static let commandFailure = Self(7022)
    public static let commandCanceled = Self(7023)
    public static let deleteFailure = Self(7024)
    public static let duplicateKey = Self(7025)
    public static let invalidPath = Self(7026)
    public static let invalidCommandArguments = Self(7027)
    public static let registerFailure = Self(7028)
    public static let alreadyInUse = Self(7029)
    public static let deregisterFailure = Self(7030)
    public static let pathAlreadyRegistered = Self(7031)

    public static let recordNotParsed = Self(7100)
    public static let secureSessionRequired = Self(7101)
    public static let secureSessionNotSupported = Self(7102)
    public static let segmentationNotSupported = Self(7103)
    public static let invalidRecordValue = Self(7104)
    public static let sessionContextTerminated = Self(7105)
    public static let sessionContextNotAllowed = Self(7106)

    public static let recordRange: ClosedRange<UInt32> = 7100...7199
    public static let dataModelRange: ClosedRange<UInt32> = 7200...7299
    public static let vendorRange: ClosedRange<UInt32> = 7800...7999

    public var isRecordError: Bool { Self.recordRange.contains(rawValue) }
    public var isVendor: Bool { Self.vendorRange.contains(rawValue) }

    public var name: String {
        switch rawValue {
        case 7000: "Message failed"
        case 7001: "Message not supported"
        case 7002: "Request denied"
        case 7003: "Internal error"
        case 7004: "Invalid arguments"
        case 7005: "Resources exceeded"
        case 7006: "Permission denied"
        case 7007: "Invalid configuration"
        case 7008: "Invalid path syntax"
        case 7009: "Parameter action failed"
        case 7010: "Unsupported parameter"
        case 7011: "Invalid type"
        case 7012: "Invalid value"
        case 7013: "Attempt to update non-writeable parameter"
        case 7014: "Value conflict"
        case 7015: "Operation error"
        case 7016: "Object does not exist"
        case 7017: "Object could not be created"
        case 7018: "Object is not a table"
        case 7019: "Attempt to create non-creatable object"
        case 7020: "Object could not be updated"
        case 7021: "Required parameter failed"
        case 7022: "Command failure"
        case 7023: "Command canceled"
        case 7024: "Delete failure"
        case 7025: "Object exists with duplicate key"
        case 7026: "Invalid path"
        case 7027: "Invalid command arguments"
        case 7028: "Register failure"
        case 7029: "Already in use"
        case 7030: "Deregister failure"
        case 7031: "Path already registered"
        case 7100: "Record could not be parsed"
        case 7101: "Secure session required"
        case 7102: "Secure session not supported"
        case 7103: "Segmentation and reassembly not supported"
        case 7104: "Invalid Record value"
        case 7105: "Session Context terminated"
        case 7106: "Session Context not allowed"
        case 7200...7299: "Data-model-defined error"
        case 7800...7999: "Vendor-specific error"
        default: "Unknown error"
        }
    }

    public var category: FaultCategory {
        switch rawValue {
        case 7001: .notSupported
        case 7002: .requestDenied
        case 7000, 7003: .internalError
        case 7004, 7007, 7008, 7027: .invalidArguments
        case 7005: .resourcesExceeded
        case 7006: .permissionDenied
        case 7010, 7016, 7026: .invalidPath
        case 7011: .invalidType
        case 7009, 7012, 7014, 7021, 7025: .invalidValue
        case 7013: .notWritable
        case 7015, 7017, 7018, 7019, 7020, 7024: .objectFailure
        case 7022: .commandFailure
        case 7023: .cancelled
        case 7028...7031, 7100...7199: .protocolError
        case 7200...7299: .commandFailure
        case 7800...7999: .vendor
        default: .unknown
        }
    }

    public var description: String { "\(rawValue) \(name)" }

    public static func ~= (pattern: ClosedRange<UInt32>, code: USPErrorCode) -> Bool { pattern.contains(code.rawValue) }

    public init(from decoder: any Decoder) throws { self.init(try decoder.singleValueContainer().decode(UInt32.self)) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
