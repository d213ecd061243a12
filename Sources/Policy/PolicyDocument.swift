import Foundation
import TandemCore

/// A validated policy file: provisioning policies and fleet migrations. Paths are TR-181 `Device.`
/// paths; the engine translates them for TR-098 devices through its alias table.
public struct PolicyDocument: Hashable, Sendable {
    /// Policies in the order they apply: ascending `order`, then name. Where two matching policies
    /// ensure the same parameter, the later one wins, so the order decides and nothing flaps.
    public var policies: [Policy]
    public var migrations: [MigrationPlan]

    public init(policies: [Policy] = [], migrations: [MigrationPlan] = []) {
        self.policies = policies.sorted { ($0.order, $0.name) < ($1.order, $1.name) }
        self.migrations = migrations
    }

    public func policy(named name: String) -> Policy? { policies.first { $0.name == name } }
    public func migration(named name: String) -> MigrationPlan? { migrations.first { $0.name == name } }
}

/// What makes the engine look at a device.
public enum PolicyTrigger: String, Hashable, Sendable, CaseIterable, Codable {
    /// CWMP `0 BOOTSTRAP`; a USP OnBoardRequest.
    case bootstrap
    /// CWMP `1 BOOT`; USP `Device.Boot!`.
    case boot
    /// CWMP `2 PERIODIC`; USP `Periodic!`.
    case periodic
    /// Any contact: every Inform, every USP (re)connection.
    case connect
    /// `tandem policy apply` and the API.
    case onDemand = "on-demand"
}

/// One provisioning policy: which devices, what they must look like, and when to check.
public struct Policy: Hashable, Sendable {
    public var name: String
    public var order: Int
    public var triggers: Set<PolicyTrigger>
    public var selector: DeviceSelector
    public var desired: DesiredState

    public init(name: String, order: Int = 0, triggers: Set<PolicyTrigger> = Set(PolicyTrigger.allCases), selector: DeviceSelector = DeviceSelector(), desired: DesiredState) {
        self.name = name
        self.order = order
        self.triggers = triggers
        self.selector = selector
        self.desired = desired
    }
}

/// The state a policy ensures.
public struct DesiredState: Hashable, Sendable {
    public var parameters: [DesiredParameter]
    public var objects: [DesiredObject]
    public var firmware: FirmwareTarget?

    public init(parameters: [DesiredParameter] = [], objects: [DesiredObject] = [], firmware: FirmwareTarget? = nil) {
        self.parameters = parameters
        self.objects = objects
        self.firmware = firmware
    }

    public var isEmpty: Bool { parameters.isEmpty && objects.isEmpty && firmware == nil }
}

/// A parameter and the value it must have.
public struct DesiredParameter: Hashable, Sendable {
    /// A concrete TR-181 parameter path.
    public var path: String
    public var value: TypedValue

    public init(path: String, value: TypedValue) {
        self.path = path
        self.value = value
    }
}

/// An instance that must exist in a table: found by its unique-key values, created when missing,
/// and its other values kept as given (a guest Wi-Fi SSID, a port mapping, a USP controller).
public struct DesiredObject: Hashable, Sendable {
    /// The table, ending in `.`: `Device.WiFi.SSID.`.
    public var table: String
    /// Relative parameter names and values that identify the instance.
    public var key: [String: TypedValue]
    /// Relative parameter names and the values they must have.
    public var values: [String: TypedValue]

    public init(table: String, key: [String: TypedValue], values: [String: TypedValue] = [:]) {
        self.table = table
        self.key = key
        self.values = values
    }
}

/// A firmware version to reach, and the image that reaches it.
public struct FirmwareTarget: Hashable, Sendable {
    public var version: String
    public var url: String
    public var fileSize: UInt32?
    public var username: String?
    public var password: String?

    public init(version: String, url: String, fileSize: UInt32? = nil, username: String? = nil, password: String? = nil) {
        self.version = version
        self.url = url
        self.fileSize = fileSize
        self.username = username
        self.password = password
    }
}

/// What the engine knows of one device, as the policy language sees it. Parameter paths are TR-181
/// (the engine translates a TR-098 device's stored parameters before building this).
public struct DeviceFacts: Hashable, Sendable {
    /// A stable identity for percentage buckets: the device's registry identity string.
    public var key: String
    public var manufacturer: String
    public var oui: String
    public var productClass: String
    public var serialNumber: String
    public var softwareVersion: String
    public var tags: Set<String>
    /// The protocol Tandem manages the device over now.
    public var activeProtocol: ManagementProtocol?
    public var parameters: [String: TypedValue]

    public init(
        key: String, manufacturer: String = "", oui: String = "", productClass: String = "", serialNumber: String = "",
        softwareVersion: String = "", tags: Set<String> = [], activeProtocol: ManagementProtocol? = nil, parameters: [String: TypedValue] = [:]
    ) {
        self.key = key
        self.manufacturer = manufacturer
        self.oui = oui
        self.productClass = productClass
        self.serialNumber = serialNumber
        self.softwareVersion = softwareVersion
        self.tags = tags
        self.activeProtocol = activeProtocol
        self.parameters = parameters
    }
}
