/// A protocol-neutral operation on one device. The engine's planner turns each into CWMP RPCs or
/// USP messages (mapping in the protocol digest, D.3); the registry queues them as tasks.
public enum Operation: Hashable, Sendable {
    /// Read parameters; paths may be partial (`Device.DeviceInfo.`) or search paths.
    case get(paths: [PathExpression])
    /// Write parameters. With `allowPartial` false the device applies all or none (USP
    /// `allow_partial`; CWMP SetParameterValues is always atomic). `parameterKey` becomes CWMP's
    /// ParameterKey.
    case set(values: [ParameterSetting], allowPartial: Bool, parameterKey: String?)
    /// Create an instance of a table, with initial parameter values.
    case add(object: PathExpression, parameters: [ParameterSetting])
    /// Delete object instances.
    case delete(objects: [PathExpression])
    /// Run a command (`Device.IP.Diagnostics.IPPing()`) with input arguments.
    case operate(command: PathExpression, input: [String: String], commandKey: String?)
    case reboot(commandKey: String?)
    case factoryReset
    /// Transfer a file to the device (firmware, configuration, ...).
    case download(FileTransfer)
    /// Transfer a file from the device (configuration backup, logs, ...).
    case upload(FileTransfer)
    /// Ask the device to contact Tandem after a delay (CWMP ScheduleInform, USP ScheduleTimer()).
    case scheduleInform(delaySeconds: UInt32, commandKey: String?)
    /// Learn the data model under an object path: names, writability and instances (CWMP
    /// GetParameterNames, USP GetInstances). `nextLevel` limits it to the object's direct children.
    case discover(object: PathExpression, nextLevel: Bool)
    /// Read notification and access attributes (CWMP GetParameterAttributes).
    case getAttributes(paths: [PathExpression])
    /// Change notification and access attributes (CWMP SetParameterAttributes; on USP, ValueChange
    /// subscriptions in `Device.LocalAgent.Subscription.{i}`).
    case setAttributes([AttributeSetting])
    /// A download the device carries out within time windows (CWMP ScheduleDownload, A.4.1.8).
    case scheduleDownload(FileTransfer, windows: [TransferWindow])
    /// Cancel a queued transfer by its CommandKey (CWMP CancelTransfer A.4.1.9; USP
    /// `Device.LocalAgent.Request.{i}.Cancel()`).
    case cancelTransfer(commandKey: String)
    /// Install, update or uninstall deployment units (CWMP ChangeDUState; USP
    /// `Device.SoftwareModules.InstallDU()`, `DeploymentUnit.{i}.Update()/Uninstall()`).
    case changeDUState([DeploymentUnitOperation])
    /// What the device supports: CWMP GetRPCMethods, USP GetSupportedProtocol.
    case supportedMethods

    /// A short name for logs, metrics and the task table.
    public var name: String {
        switch self {
        case .get: "get"
        case .set: "set"
        case .add: "add"
        case .delete: "delete"
        case .operate: "operate"
        case .reboot: "reboot"
        case .factoryReset: "factoryReset"
        case .download: "download"
        case .upload: "upload"
        case .scheduleInform: "scheduleInform"
        case .discover: "discover"
        case .getAttributes: "getAttributes"
        case .setAttributes: "setAttributes"
        case .scheduleDownload: "scheduleDownload"
        case .cancelTransfer: "cancelTransfer"
        case .changeDUState: "changeDUState"
        case .supportedMethods: "supportedMethods"
        }
    }

    /// Every operation name, as `name` and the JSON `op` spell it.
    public static let allNames = [
        "get", "set", "add", "delete", "operate", "reboot", "factoryReset", "download", "upload", "scheduleInform", "discover",
        "getAttributes", "setAttributes", "scheduleDownload", "cancelTransfer", "changeDUState", "supportedMethods",
    ]

    /// The path expressions the operation addresses (parameters, objects, tables), for wildcard and
    /// search expansion.
    public var targetPaths: [PathExpression] {
        switch self {
        case .get(let paths), .getAttributes(let paths): paths
        case .set(let values, _, _): values.map(\.path)
        case .add(let object, _): [object]
        case .delete(let objects): objects
        case .setAttributes(let settings): settings.map(\.path)
        case .discover(let object, _): [object]
        case .operate(let command, _, _): [command]
        default: []
        }
    }

    /// Checks what can be checked without the device: path kinds and value types. Throws a fault of
    /// category `invalidArguments` or `invalidPath` naming what is wrong.
    public func validate() throws(Fault) {
        func require(_ condition: Bool, _ message: @autoclosure () -> String) throws(Fault) {
            if !condition { throw Fault(category: .invalidArguments, message: message()) }
        }
        func require(_ condition: Bool, _ category: FaultCategory, _ message: @autoclosure () -> String) throws(Fault) {
            if !condition { throw Fault(category: category, message: message()) }
        }
        switch self {
        case .get(let paths):
            try require(!paths.isEmpty, "get needs at least one path")
            for path in paths {
                try require(path.kind == .object || path.kind == .parameter, .invalidPath, "cannot get \(path): not a parameter or object path")
            }
        case .set(let values, _, let key):
            try require(!values.isEmpty, "set needs at least one parameter")
            for setting in values {
                try require(setting.path.kind == .parameter, .invalidPath, "cannot set \(setting.path): not a parameter path")
            }
            try require((key?.count ?? 0) <= 32, "ParameterKey is longer than 32 characters")
        case .add(let object, let parameters):
            try require(object.kind == .object, .invalidPath, "add needs an object path ending in '.', got \(object)")
            for setting in parameters {
                try require(setting.path.kind == .parameter && setting.path.segments.count >= 1, .invalidPath, "bad parameter \(setting.path) for add")
            }
        case .delete(let objects):
            try require(!objects.isEmpty, "delete needs at least one object")
            for object in objects {
                try require(object.kind == .object, .invalidPath, "delete needs object instance paths ending in '.', got \(object)")
                if case .instance = object.segments.last {} else if case .search = object.segments.last {} else if case .wildcard = object.segments.last {} else {
                    throw Fault(category: .invalidPath, message: "delete needs an object instance, got \(object)")
                }
            }
        case .operate(let command, _, let key):
            try require(command.kind == .command, .invalidPath, "operate needs a command path ending in '()', got \(command)")
            try require((key?.count ?? 0) <= 32, "CommandKey is longer than 32 characters")
        case .reboot(let key):
            try require((key?.count ?? 0) <= 32, "CommandKey is longer than 32 characters")
        case .factoryReset:
            break
        case .download(let transfer), .upload(let transfer):
            try transfer.validate()
        case .scheduleInform(let delay, let key):
            try require(delay > 0, "scheduleInform needs a delay of at least one second")
            try require((key?.count ?? 0) <= 32, "CommandKey is longer than 32 characters")
        case .discover(let object, _):
            try require(object.kind == .object, .invalidPath, "discover needs an object path ending in '.', got \(object)")
        case .getAttributes(let paths):
            try require(!paths.isEmpty, "getAttributes needs at least one path")
            for path in paths {
                try require(path.kind == .object || path.kind == .parameter, .invalidPath, "cannot read attributes of \(path): not a parameter or object path")
            }
        case .setAttributes(let settings):
            try require(!settings.isEmpty, "setAttributes needs at least one parameter")
            for setting in settings {
                try require(setting.path.kind == .object || setting.path.kind == .parameter, .invalidPath, "cannot set attributes of \(setting.path)")
                // TR-069 A.3.2.4: the only defined AccessList value is "Subscriber".
                for entity in setting.accessList ?? [] {
                    try require(entity == "Subscriber", "unknown AccessList entry \"\(entity)\" (only Subscriber is defined)")
                }
            }
        case .scheduleDownload(let transfer, let windows):
            try transfer.validate()
            try require(transfer.kind == .firmware || transfer.kind == .configuration, "scheduleDownload takes firmware or configuration files (TR-069 A.4.1.8)")
            // TR-069 A.4.1.8: one or two windows, each non-empty, the second after the first.
            try require((1...2).contains(windows.count), "scheduleDownload needs one or two time windows")
            for window in windows {
                try require(window.end > window.start, "a time window must end after it starts (\(window.start)-\(window.end))")
                try require((window.userMessage?.count ?? 0) <= 256, "UserMessage is longer than 256 characters")
            }
            if windows.count == 2 { try require(windows[1].start >= windows[0].end, "time windows must not overlap and must be in order") }
        case .cancelTransfer(let key):
            try require(!key.isEmpty && key.count <= 32, "cancelTransfer needs a CommandKey of 1 to 32 characters")
        case .changeDUState(let operations):
            try require(!operations.isEmpty, "changeDUState needs at least one operation")
            for operation in operations { try operation.validate() }
        case .supportedMethods:
            break
        }
    }
}

/// One parameter to write, with its value and type.
public struct ParameterSetting: Hashable, Sendable, Codable {
    public let path: PathExpression
    public let value: TypedValue
    /// For USP Set and Add: fail the whole request if this parameter fails (`required`).
    public let required: Bool

    public init(path: PathExpression, value: TypedValue, required: Bool = true) {
        self.path = path
        self.value = value
        self.required = required
    }
}

/// The arguments of a file transfer in either direction (CWMP Download/Upload A.3.2.8/A.4.1.5;
/// USP `FirmwareImage.{i}.Download()`, `VendorConfigFile.{i}.Backup()`/`Restore()`,
/// `VendorLogFile.{i}.Upload()`).
public struct FileTransfer: Hashable, Sendable, Codable {
    /// What the file is. CWMP FileType strings are derived from it.
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
        case firmware, webContent, configuration, log, tone, ringer

        /// The TR-069 FileType for a download (A.3.2.8) or an upload (A.4.1.5).
        public func cwmpFileType(upload: Bool) -> String {
            switch (self, upload) {
            case (.firmware, _): "1 Firmware Upgrade Image"
            case (.webContent, _): "2 Web Content"
            case (.configuration, false): "3 Vendor Configuration File"
            case (.configuration, true): "1 Vendor Configuration File"
            case (.log, _): "2 Vendor Log File"
            case (.tone, _): "4 Tone File"
            case (.ringer, _): "5 Ringer File"
            }
        }
    }

    public var kind: Kind
    public var url: String
    public var username: String?
    public var password: String?
    public var fileSize: UInt32?
    public var targetFileName: String?
    public var delaySeconds: UInt32
    public var commandKey: String?
    /// Expected checksum, for USP commands that take one.
    public var checksum: String?

    public init(
        kind: Kind, url: String, username: String? = nil, password: String? = nil, fileSize: UInt32? = nil,
        targetFileName: String? = nil, delaySeconds: UInt32 = 0, commandKey: String? = nil, checksum: String? = nil
    ) {
        self.kind = kind
        self.url = url
        self.username = username
        self.password = password
        self.fileSize = fileSize
        self.targetFileName = targetFileName
        self.delaySeconds = delaySeconds
        self.commandKey = commandKey
        self.checksum = checksum
    }

    public func validate() throws(Fault) {
        let lower = url.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://") || lower.hasPrefix("ftp://") || lower.hasPrefix("tftp://") else {
            throw Fault(category: .invalidArguments, message: "transfer URL must be http, https, ftp or tftp: \(url)")
        }
        guard url.count <= 256 else { throw Fault(category: .invalidArguments, message: "transfer URL is longer than 256 characters") }
        for (name, value) in [("Username", username), ("Password", password), ("TargetFileName", targetFileName)] {
            if let value, value.count > 256 { throw Fault(category: .invalidArguments, message: "\(name) is longer than 256 characters") }
        }
        if let commandKey, commandKey.count > 32 { throw Fault(category: .invalidArguments, message: "CommandKey is longer than 32 characters") }
    }
}

/// The notification and access attributes to give a parameter (CWMP SetParameterAttributesStruct,
/// TR-069 A.3.2.4).
public struct AttributeSetting: Hashable, Sendable, Codable {
    /// CWMP notification 0, 1, 2.
    public enum Notification: String, Hashable, Sendable, Codable, CaseIterable {
        case off, passive, active

        public var cwmpValue: Int {
            switch self {
            case .off: 0
            case .passive: 1
            case .active: 2
            }
        }
    }

    public var path: PathExpression
    /// Nil leaves the notification unchanged.
    public var notification: Notification?
    /// Nil leaves the access list unchanged; `[]` gives write access to the ACS only, `["Subscriber"]`
    /// to the subscriber too.
    public var accessList: [String]?

    public init(path: PathExpression, notification: Notification?, accessList: [String]? = nil) {
        self.path = path
        self.notification = notification
        self.accessList = accessList
    }
}

/// A time window of a scheduled download (CWMP TimeWindowStruct, TR-069 A.4.1.8).
public struct TransferWindow: Hashable, Sendable, Codable {
    public enum Mode: String, Hashable, Sendable, Codable, CaseIterable {
        case atAnyTime, immediately, whenIdle, confirmationNeeded

        /// The CWMP WindowMode string.
        public var cwmpValue: String {
            switch self {
            case .atAnyTime: "1 At Any Time"
            case .immediately: "2 Immediately"
            case .whenIdle: "3 When Idle"
            case .confirmationNeeded: "4 Confirmation Needed"
            }
        }
    }

    /// Seconds from the request to the window's start and end.
    public var start: UInt32
    public var end: UInt32
    public var mode: Mode
    public var userMessage: String?
    /// Nil for the device's default (-1).
    public var maxRetries: Int32?

    public init(start: UInt32, end: UInt32, mode: Mode = .atAnyTime, userMessage: String? = nil, maxRetries: Int32? = nil) {
        self.start = start
        self.end = end
        self.mode = mode
        self.userMessage = userMessage
        self.maxRetries = maxRetries
    }
}

/// One deployment-unit change (CWMP InstallOpStruct/UpdateOpStruct/UninstallOpStruct; USP
/// `InstallDU()`, `DeploymentUnit.{i}.Update()`, `.Uninstall()`). JSON:
/// `{"action": "install", "url": "...", "uuid": "...", "executionEnvRef": "..."}`.
public enum DeploymentUnitOperation: Hashable, Sendable, Codable {
    case install(url: String, uuid: String?, username: String?, password: String?, executionEnvRef: String?)
    case update(uuid: String?, version: String?, url: String?, username: String?, password: String?)
    case uninstall(uuid: String, version: String?, executionEnvRef: String?)

    public var action: String {
        switch self {
        case .install: "install"
        case .update: "update"
        case .uninstall: "uninstall"
        }
    }

    public func validate() throws(Fault) {
        func bad(_ message: String) -> Fault { Fault(category: .invalidArguments, message: message) }
        switch self {
        case .install(let url, let uuid, _, _, _):
            guard !url.isEmpty, url.count <= 1024 else { throw bad("install needs a URL of at most 1024 characters") }
            if let uuid, uuid.count > 36 { throw bad("UUID is longer than 36 characters") }
        case .update(let uuid, _, let url, _, _):
            guard uuid?.isEmpty == false || url?.isEmpty == false else { throw bad("update needs a UUID or a URL") }
            if let url, url.count > 1024 { throw bad("URL is longer than 1024 characters") }
        case .uninstall(let uuid, _, _):
            guard !uuid.isEmpty, uuid.count <= 36 else { throw bad("uninstall needs the unit's UUID") }
        }
    }

    private enum CodingKeys: String, CodingKey { case action, url, uuid, username, password, executionEnvRef, version }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func text(_ key: CodingKeys) throws -> String? { try c.decodeIfPresent(String.self, forKey: key) }
        switch try c.decode(String.self, forKey: .action) {
        case "install":
            self = .install(
                url: try c.decode(String.self, forKey: .url), uuid: try text(.uuid), username: try text(.username), password: try text(.password),
                executionEnvRef: try text(.executionEnvRef))
        case "update":
            self = .update(uuid: try text(.uuid), version: try text(.version), url: try text(.url), username: try text(.username), password: try text(.password))
        case "uninstall":
            self = .uninstall(uuid: try c.decode(String.self, forKey: .uuid), version: try text(.version), executionEnvRef: try text(.executionEnvRef))
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .action, in: c, debugDescription: "unknown action \"\(other)\" (install, update, uninstall)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(action, forKey: .action)
        switch self {
        case .install(let url, let uuid, let username, let password, let ref):
            try c.encode(url, forKey: .url)
            try c.encodeIfPresent(uuid, forKey: .uuid)
            try c.encodeIfPresent(username, forKey: .username)
            try c.encodeIfPresent(password, forKey: .password)
            try c.encodeIfPresent(ref, forKey: .executionEnvRef)
        case .update(let uuid, let version, let url, let username, let password):
            try c.encodeIfPresent(uuid, forKey: .uuid)
            try c.encodeIfPresent(version, forKey: .version)
            try c.encodeIfPresent(url, forKey: .url)
            try c.encodeIfPresent(username, forKey: .username)
            try c.encodeIfPresent(password, forKey: .password)
        case .uninstall(let uuid, let version, let ref):
            try c.encode(uuid, forKey: .uuid)
            try c.encodeIfPresent(version, forKey: .version)
            try c.encodeIfPresent(ref, forKey: .executionEnvRef)
        }
    }
}
