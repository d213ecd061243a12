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
