import TandemCore
import USP

/// What `AgentRequestHandler` answers USP requests against: the USP view of a device's data model.
/// `AgentDataModel` is the stand-alone agent's own tree; a dual-stack CPE supplies a view of the
/// data model its CWMP side uses, so that both protocols read and write one device.
public protocol USPAgentModel: Sendable {
    /// Parameters under an object path or at a parameter path, sorted by path; `*` matches any instance.
    func resolve(_ path: String) -> [(String, AgentDataModel.Entry)]
    /// The object instances of a table (`Device.WiFi.SSID.` gives `Device.WiFi.SSID.1.` ...).
    func instances(of table: String) -> [String]
    /// The stored value of a parameter.
    func value(_ path: String) -> String?
    /// Checks a write without doing it: nil when allowed, else the USP error.
    func checkSet(_ path: String, _ value: String) -> USPErrorCode?
    /// A write `checkSet` allowed.
    mutating func set(_ path: String, _ value: String)
    /// Sets a value regardless of writability (the device itself changing it).
    mutating func update(_ path: String, _ value: String, type: ValueType)
    /// Creates an instance of `table`; returns its path (`Device.WiFi.SSID.3.`).
    mutating func add(_ table: String, _ settings: [String: String]) throws(USPFailure) -> String
    /// Deletes an instance; false when it does not exist.
    mutating func delete(_ instance: String) -> Bool
    /// The object instances a search or wildcard path (`Device.X.[Enable==true].`) selects.
    func select(_ path: String) -> [String]
}

extension USPAgentModel {
    public func select(_ path: String) -> [String] {
        guard let expression = try? PathExpression(path) else { return [] }
        let entries = Dictionary(resolve("Device."), uniquingKeysWith: { first, _ in first })
        return (try? expression.expand(over: entries.keys, missingValues: .noMatch) { key in
            entries[key].map { TypedValue.lenient($0.value, type: $0.type) }
        }) ?? []
    }

    /// Sets a string value regardless of writability.
    public mutating func update(_ path: String, _ value: String) { update(path, value, type: .string) }
}

/// The instantiated data model of a simulated USP agent: a TR-181 `Device.` tree of typed
/// parameters, with tables whose instance numbers persist (R-ARC.8).
public struct AgentDataModel: USPAgentModel {
    public struct Entry: Sendable, Equatable {
        public var value: String
        public var type: ValueType
        public var writable: Bool

        public init(value: String, type: ValueType, writable: Bool) {
            self.value = value
            self.type = type
            self.writable = writable
        }
    }

    public private(set) var parameters: [String: Entry] = [:]
    /// Tables (`Device.WiFi.SSID.`) and the next instance number of each.
    public private(set) var tables: [String: UInt32] = [:]

    public init() {}

    /// A realistic TR-181 model for a gateway with `oui` and `serial`.
    public static func gateway(oui: String, productClass: String, serial: String, softwareVersion: String, endpointID: String) -> AgentDataModel {
        var model = AgentDataModel()
        let info: [(String, String, ValueType, Bool)] = [
            ("Device.DeviceInfo.Manufacturer", "Tandem Simulated Devices", .string, false),
            ("Device.DeviceInfo.ManufacturerOUI", oui, .string, false),
            ("Device.DeviceInfo.ModelName", "SimGateway 2", .string, false),
            ("Device.DeviceInfo.ProductClass", productClass, .string, false),
            ("Device.DeviceInfo.SerialNumber", serial, .string, false),
            ("Device.DeviceInfo.HardwareVersion", "HW-2", .string, false),
            ("Device.DeviceInfo.SoftwareVersion", softwareVersion, .string, false),
            ("Device.DeviceInfo.UpTime", "0", .unsignedInt, false),
            ("Device.DeviceInfo.ActiveFirmwareImage", "Device.DeviceInfo.FirmwareImage.1", .string, false),
            ("Device.LocalAgent.EndpointID", endpointID, .string, false),
            ("Device.LocalAgent.SoftwareVersion", "sim-1.0", .string, false),
            ("Device.LocalAgent.SupportedProtocols", "WebSocket,MQTT,STOMP", .string, false),
            ("Device.CWMPManagementServer.EnableCWMP", "true", .boolean, true),
            ("Device.Time.Enable", "true", .boolean, true),
            ("Device.Time.NTPServer1", "pool.ntp.org", .string, true),
            ("Device.ManagementServer.PeriodicInformInterval", "3600", .unsignedInt, true),
        ]
        for (path, value, type, writable) in info { model.parameters[path] = Entry(value: value, type: type, writable: writable) }
        for (table, rows) in [
            ("Device.WiFi.SSID.", [["SSID": ("home-\(serial.suffix(4))", ValueType.string), "Enable": ("true", .boolean)],
                                   ["SSID": ("guest-\(serial.suffix(4))", .string), "Enable": ("false", .boolean)]]),
            ("Device.WiFi.AccessPoint.", [["SSIDReference": ("Device.WiFi.SSID.1", .string), "Security.KeyPassphrase": ("secret123", .string)]]),
            ("Device.DeviceInfo.FirmwareImage.", [["Name": ("image-a", .string), "Version": (softwareVersion, .string), "Status": ("Active", .string)],
                                                  ["Name": ("image-b", .string), "Version": ("", .string), "Status": ("NoImage", .string)]]),
            ("Device.Hosts.Host.", [["HostName": ("laptop", .string), "IPAddress": ("192.168.1.20", .string), "Active": ("true", .boolean)]]),
            ("Device.LocalAgent.Subscription.", []),
            ("Device.SoftwareModules.DeploymentUnit.", []),
        ] as [(String, [[String: (String, ValueType)]])] {
            model.tables[table] = 1
            for row in rows {
                let instance = model.nextInstance(table)
                for (name, (value, type)) in row {
                    let writable = !(table == "Device.DeviceInfo.FirmwareImage." || table == "Device.Hosts.Host.")
                    model.parameters["\(table)\(instance).\(name)"] = Entry(value: value, type: type, writable: writable)
                }
            }
        }
        return model
    }

    /// Declares an empty table (`Device.LocalAgent.Subscription.`) that `add` may fill.
    public mutating func addTable(_ table: String) {
        let base = table.hasSuffix(".") ? table : table + "."
        if tables[base] == nil { tables[base] = 1 }
    }

    private mutating func nextInstance(_ table: String) -> UInt32 {
        let next = tables[table] ?? 1
        tables[table] = next + 1
        return next
    }

    // MARK: Reading

    /// Parameters under an object path or at a parameter path; `*` matches any instance.
    public func resolve(_ path: String) -> [(String, Entry)] {
        let pattern = Self.PathPattern(path)
        return parameters.filter { pattern.matches($0.key) }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// A Get path (object or parameter, `*` for any instance) matched against parameter paths.
    public struct PathPattern: Sendable {
        let isObject: Bool
        let segments: [String]

        public init(_ path: String) {
            isObject = path.hasSuffix(".")
            segments = (isObject ? String(path.dropLast()) : path).split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        }

        /// True when the parameter at `path` is below the object (or is the parameter) the pattern names.
        public func matches(_ path: String) -> Bool {
            let candidate = path.split(separator: ".", omittingEmptySubsequences: false)
            guard isObject ? candidate.count > segments.count : candidate.count == segments.count else { return false }
            for (index, pattern) in segments.enumerated() where pattern != "*" && pattern != String(candidate[index]) {
                return false
            }
            return true
        }
    }

    /// The object instances of a table (`Device.WiFi.SSID.` → `Device.WiFi.SSID.1.` ...).
    public func instances(of table: String) -> [String] {
        let base = table.hasSuffix(".") ? table : table + "."
        var found = Set<String>()
        for key in parameters.keys where key.hasPrefix(base) {
            let rest = key.dropFirst(base.count)
            if let dot = rest.firstIndex(of: "."), UInt32(rest[..<dot]) != nil { found.insert(base + rest[..<dot] + ".") }
        }
        return found.sorted { $0.count == $1.count ? $0 < $1 : $0.count < $1.count }
    }

    public func value(_ path: String) -> String? { parameters[path]?.value }

    /// The concrete object or parameter paths a search path (`Table.[Key=="v"].`, `Table.*.`)
    /// selects, in tree order; a concrete path selects itself when it exists.
    public func select(_ path: String) -> [String] {
        guard let expression = try? PathExpression(path) else { return [] }
        return (try? expression.expand(over: parameters.keys, missingValues: .noMatch) { key in
            parameters[key].map { TypedValue.lenient($0.value, type: $0.type) }
        }) ?? []
    }

    // MARK: Writing

    /// Checks a write without doing it: nil when allowed, else the USP error.
    public func checkSet(_ path: String, _ value: String) -> USPErrorCode? {
        guard let entry = parameters[path] else { return .invalidPath }
        guard entry.writable else { return .notWritable }
        guard (try? TypedValue(parsing: value, as: entry.type)) != nil else { return .invalidValue }
        return nil
    }

    public mutating func set(_ path: String, _ value: String) {
        parameters[path]?.value = value
    }

    /// Sets a value regardless of writability (the device itself changing it).
    public mutating func update(_ path: String, _ value: String, type: ValueType) {
        if parameters[path] != nil { parameters[path]?.value = value } else { parameters[path] = Entry(value: value, type: type, writable: false) }
    }

    /// Creates an instance of `table`; returns its path (`Device.WiFi.SSID.3.`).
    public mutating func add(_ table: String, _ settings: [String: String]) throws(USPFailure) -> String {
        let base = table.hasSuffix(".") ? table : table + "."
        guard tables[base] != nil else { throw USPFailure(code: tables.keys.contains(where: { $0.hasPrefix(base) }) ? .notATable : .invalidPath, message: "\(base) is not a table") }
        let instance = nextInstance(base)
        let path = "\(base)\(instance)."
        // New rows copy the columns of an existing row (or take the given ones).
        let template = instances(of: base).first.map { row in resolve(row).map { (String($0.0.dropFirst(row.count)), $0.1) } } ?? []
        for (name, entry) in template {
            parameters[path + name] = Entry(value: entry.type == .boolean ? "false" : "", type: entry.type, writable: true)
        }
        for (name, value) in settings {
            let type = parameters[path + name]?.type ?? .string
            parameters[path + name] = Entry(value: value, type: type, writable: true)
        }
        return path
    }

    /// Deletes an instance; false when it does not exist.
    public mutating func delete(_ instance: String) -> Bool {
        let base = instance.hasSuffix(".") ? instance : instance + "."
        let keys = parameters.keys.filter { $0.hasPrefix(base) }
        for key in keys { parameters[key] = nil }
        return !keys.isEmpty
    }
}

extension USPFailure: Error {}
