import Foundation
import TandemCore

/// One physical device, whichever protocols it speaks. The registry keeps exactly one row per
/// device; a CWMP DeviceId and the USP endpoint IDs of the same box point to the same row.
public struct Device: Hashable, Sendable, Codable {
    public var id: Int64
    public var cwmpDeviceID: String?
    public var uspEndpointID: String?
    public var manufacturer: String
    public var oui: String
    public var productClass: String
    public var modelName: String
    public var serialNumber: String
    public var softwareVersion: String
    public var hardwareVersion: String
    /// The protocols the device has been seen speaking.
    public var protocols: Set<ManagementProtocol>
    /// The protocol Tandem manages the device over now.
    public var activeProtocol: ManagementProtocol?
    /// `Device` or `InternetGatewayDevice`, from the first Inform or Boot!.
    public var dataModelRoot: String
    public var lastContact: Date?
    /// CWMP `ManagementServer.ConnectionRequestURL`.
    public var connectionRequestURL: String?
    /// Protocol-specific connection facts (remote address, MTP, reply-to topic...) as JSON.
    public var connection: [String: String]
    public var tags: [String]
    public var createdAt: Date
    public var updatedAt: Date
}

/// What a contact tells Tandem about a device. Nil fields leave the stored value as it is.
public struct DeviceDetails: Hashable, Sendable {
    public var manufacturer: String?
    public var modelName: String?
    public var softwareVersion: String?
    public var hardwareVersion: String?
    public var dataModelRoot: String?
    public var connectionRequestURL: String?
    public var connection: [String: String]?

    public init(
        manufacturer: String? = nil, modelName: String? = nil, softwareVersion: String? = nil, hardwareVersion: String? = nil,
        dataModelRoot: String? = nil, connectionRequestURL: String? = nil, connection: [String: String]? = nil
    ) {
        self.manufacturer = manufacturer
        self.modelName = modelName
        self.softwareVersion = softwareVersion
        self.hardwareVersion = hardwareVersion
        self.dataModelRoot = dataModelRoot
        self.connectionRequestURL = connectionRequestURL
        self.connection = connection
    }
}

/// A parameter as the registry last saw it.
public struct StoredParameter: Hashable, Sendable, Codable {
    public var path: String
    public var value: TypedValue?
    public var writable: Bool?
    public var updatedAt: Date

    public init(path: String, value: TypedValue?, writable: Bool? = nil, updatedAt: Date) {
        self.path = path
        self.value = value
        self.writable = writable
        self.updatedAt = updatedAt
    }
}

/// The life of a queued operation.
public enum TaskState: String, Hashable, Sendable, Codable, CaseIterable {
    /// Waiting for the device.
    case queued
    /// Sent to the device; waiting for its answer.
    case running
    /// Completed with a result.
    case done
    /// Completed with a fault.
    case faulted
    /// Cancelled by an operator.
    case cancelled
    /// Not run before its expiry.
    case expired

    public var isFinal: Bool { self != .queued && self != .running }
}

/// A neutral operation queued for a device.
public struct DeviceTask: Hashable, Sendable, Codable {
    public var id: Int64
    public var deviceID: Int64
    public var operation: TandemCore.Operation
    public var state: TaskState
    public var attempts: Int
    public var result: OperationResult?
    public var fault: Fault?
    public var createdAt: Date
    public var updatedAt: Date
    public var expiresAt: Date?
    /// Who queued it: `token:NAME`, `policy:NAME`, `migration:NAME`, `system`.
    public var origin: String?
    /// The only protocol that may run it; nil for whichever the device is managed over.
    public var pinnedTo: ManagementProtocol?
}

/// What happened, in an append-only log.
public struct DeviceEvent: Hashable, Sendable, Codable {
    public var id: Int64
    public var deviceID: Int64?
    public var at: Date
    /// `inform`, `boot`, `bootstrap`, `fault`, `operator`, `task`, `link`, ...
    public var kind: String
    public var summary: String
    /// Who caused it: `device`, `system`, or `token:NAME` for operator actions.
    public var actor: String
    public var detail: [String: String]

    public init(id: Int64 = 0, deviceID: Int64?, at: Date, kind: String, summary: String, actor: String = "system", detail: [String: String] = [:]) {
        self.id = id
        self.deviceID = deviceID
        self.at = at
        self.kind = kind
        self.summary = summary
        self.actor = actor
        self.detail = detail
    }
}

/// Selects devices in listings.
public struct DeviceFilter: Hashable, Sendable {
    public var manufacturer: String?
    public var productClass: String?
    public var oui: String?
    public var softwareVersion: String?
    public var protocolSpoken: ManagementProtocol?
    public var activeProtocol: ManagementProtocol?
    public var tag: String?
    /// Substring of any identifier or the serial number.
    public var text: String?

    public init(
        manufacturer: String? = nil, productClass: String? = nil, oui: String? = nil, softwareVersion: String? = nil,
        protocolSpoken: ManagementProtocol? = nil, activeProtocol: ManagementProtocol? = nil, tag: String? = nil, text: String? = nil
    ) {
        self.manufacturer = manufacturer
        self.productClass = productClass
        self.oui = oui
        self.softwareVersion = softwareVersion
        self.protocolSpoken = protocolSpoken
        self.activeProtocol = activeProtocol
        self.tag = tag
        self.text = text
    }
}

/// Keyset paging: the next page starts after the last id of the previous one.
public struct Page: Hashable, Sendable {
    public var limit: Int
    public var after: Int64?

    public init(limit: Int = 100, after: Int64? = nil) {
        self.limit = max(1, min(limit, 10_000))
        self.after = after
    }
}

/// Figures for `/metrics`.
public struct RegistryStatistics: Hashable, Sendable, Codable {
    public var devices: Int
    public var devicesByProtocol: [ManagementProtocol: Int]
    public var parameters: Int
    public var tasksByState: [TaskState: Int]
    public var events: Int
}

/// What an Inform tells the registry.
/// What an Inform left in the registry that the session goes on with.
public struct RecordedInform: Sendable, Hashable {
    /// The device's registry id.
    public var id: Int64
    /// The protocol it is managed over (nil only for a row that has none yet).
    public var activeProtocol: ManagementProtocol?

    public init(id: Int64, activeProtocol: ManagementProtocol?) {
        self.id = id
        self.activeProtocol = activeProtocol
    }
}

public struct InformRecord: Sendable {
    public var identity: CWMPDeviceID
    public var details: DeviceDetails
    /// Event codes as sent (`0 BOOTSTRAP`, `1 BOOT`, `M Reboot`, ...).
    public var eventCodes: [String]
    public var parameters: [StoredParameter]
    public var remoteAddress: String?
    public var retryCount: Int

    public init(identity: CWMPDeviceID, details: DeviceDetails, eventCodes: [String], parameters: [StoredParameter], remoteAddress: String? = nil, retryCount: Int = 0) {
        self.identity = identity
        self.details = details
        self.eventCodes = eventCodes
        self.parameters = parameters
        self.remoteAddress = remoteAddress
        self.retryCount = retryCount
    }
}

extension InformRecord {
    /// This Inform's entry in the event log of device `deviceID`: its kind (`bootstrap`, `boot` or
    /// `inform`), its events, where it came from and how often the CPE had retried it.
    public func event(deviceID: Int64, at date: Date) -> DeviceEvent {
        let events = eventCodes.joined(separator: ", ")
        var detail = ["events": events]
        if let remoteAddress { detail["remoteAddress"] = remoteAddress }
        if retryCount > 0 { detail["retryCount"] = String(retryCount) }
        let kind = eventCodes.contains("0 BOOTSTRAP") ? "bootstrap" : eventCodes.contains("1 BOOT") ? "boot" : "inform"
        return DeviceEvent(
            deviceID: deviceID, at: date, kind: kind, summary: "Inform: " + (eventCodes.isEmpty ? "no events" : events),
            actor: "device", detail: detail)
    }

    /// A digest of the parameter names in order (64-bit FNV-1a over their UTF-8 bytes, each name
    /// ended by a zero byte, then their count). A CPE's periodic Informs carry the same names each
    /// time; the registry keeps the digest of the last Inform's names to know when they change. (A
    /// collision would only hide a new name of the same device's Informs until a row of it is
    /// removed or its names change again.)
    public var parameterNamesDigest: Int64 {
        var hash = FNV1a()
        for parameter in parameters {
            var path = parameter.path
            path.withUTF8 { hash.add($0) }
            hash.add(0)
        }
        hash.add(word: UInt64(parameters.count))
        return Int64(bitPattern: hash.value)
    }
}

/// Which credentials of a device.
public enum CredentialPurpose: String, Hashable, Sendable, CaseIterable {
    /// What the CPE presents to Tandem (ManagementServer.Username / Password).
    case cpe
    /// What Tandem presents on Connection Requests (ConnectionRequestUsername / Password).
    case connectionRequest
}

/// A device's stored credentials. Never logged.
public struct DeviceCredentials: Hashable, Sendable, CustomStringConvertible {
    public var deviceID: Int64
    public var username: String
    public var password: String

    public init(deviceID: Int64, username: String, password: String) {
        self.deviceID = deviceID
        self.username = username
        self.password = password
    }

    public var description: String { "credentials(device \(deviceID), user \(username), password ***)" }
}

/// What a REST API token may do.
public enum APIRole: String, Hashable, Sendable, CaseIterable, Codable, Comparable {
    /// Reads only.
    case readOnly = "read-only"
    /// Reads, queues operations, tags devices.
    case operator_ = "operator"
    /// Everything, including credentials.
    case admin

    var rank: Int {
        switch self {
        case .readOnly: 0
        case .operator_: 1
        case .admin: 2
        }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank < rhs.rank }
}

/// A REST API token as stored: never the secret itself.
public struct APIToken: Hashable, Sendable, Codable {
    public var id: Int64
    public var name: String
    public var role: APIRole
    public var secretHash: String
    public var createdAt: Date
    public var revokedAt: Date?
}
