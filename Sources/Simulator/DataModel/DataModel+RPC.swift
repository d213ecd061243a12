import CWMP
import TandemCore

/// One write the ACS made to a data model, reported to `SimulatedCPE.Configuration.onWrite` so that
/// a later feature (starting a USP agent when `Device.USPAgent.` is configured) can react.
public enum DataModelWrite: Sendable, Hashable {
    /// SetParameterValues wrote `newValue` (possibly equal to `oldValue`: writing a command
    /// parameter such as `SendOnBoardRequest` again still counts).
    case parameter(path: String, oldValue: TypedValue, newValue: TypedValue)
    /// AddObject created this instance (`Device.MQTT.Client.2.`).
    case objectAdded(path: String)
    /// DeleteObject removed this instance.
    case objectDeleted(path: String)
}

/// The ACS-facing operations (TR-069 A.3.2), each failing with the fault a CPE answers.
extension DataModel {
    /// GetParameterNames (A.3.2.3). `path` is `""` (the root), a partial path ending in `.`, or a
    /// parameter name (then `nextLevel` must be false: fault 9003).
    public func getParameterNames(path: String, nextLevel: Bool) throws(CWMPFault) -> [CWMPParameterInfo] {
        if path.isEmpty {
            return nextLevel ? [info(rootPath)] : subtree(rootPath).map(info)
        }
        guard let node = nodes[path] else { throw CWMPFault(code: .invalidParameterName, message: "\(path) does not exist") }
        switch node {
        case .parameter:
            if nextLevel { throw CWMPFault(code: .invalidArguments, message: "NextLevel true with the parameter name \(path)") }
            return [info(path)]
        case .object(let object):
            return nextLevel ? object.children.map(info) : subtree(path).map(info)
        }
    }

    /// The name and writability of one node: a parameter is writable when the ACS may set it, a
    /// table when it accepts AddObject, an instance when it accepts DeleteObject.
    private func info(_ path: String) -> CWMPParameterInfo {
        switch nodes[path] {
        case .parameter(let parameter): return CWMPParameterInfo(name: path, writable: parameter.definition.writable)
        case .object(let object):
            switch object.kind {
            case .single: return CWMPParameterInfo(name: path, writable: false)
            case .table(let table): return CWMPParameterInfo(name: path, writable: table.writable)
            case .instance(let deletable): return CWMPParameterInfo(name: path, writable: deletable)
            }
        case nil: return CWMPParameterInfo(name: path, writable: false)
        }
    }

    /// GetParameterValues (A.3.2.2): parameter names or partial paths (`""` for everything).
    public func getParameterValues(names: [String]) throws(CWMPFault) -> [CWMPParameterValue] {
        var out: [CWMPParameterValue] = []
        for name in names {
            let path = name.isEmpty ? rootPath : name
            guard nodes[path] != nil else { throw CWMPFault(code: .invalidParameterName, message: "\(name) does not exist") }
            for (parameterPath, parameter) in parameters(under: path) {
                out.append(CWMPParameterValue(name: parameterPath, value: Self.visibleValue(parameter)))
            }
        }
        return out
    }

    /// SetParameterValues (A.3.2.1): all or nothing. Each refused parameter is listed in the
    /// fault's SetParameterValuesFault entries (9005 no such parameter, 9006 wrong type, 9007 bad
    /// value, 9008 read-only) under fault 9003. On success `ParameterKey` is stored.
    public mutating func setParameterValues(_ values: [CWMPParameterValue], parameterKey: String) throws(CWMPFault) -> [DataModelWrite] {
        guard parameterKey.count <= 32 else { throw CWMPFault(code: .invalidArguments, message: "ParameterKey longer than 32 characters") }
        var faults: [CWMPFault.ParameterFault] = []
        var accepted: [(String, TypedValue)] = []
        var seen = Set<String>()
        for entry in values {
            guard seen.insert(entry.name).inserted else {
                throw CWMPFault(code: .invalidArguments, message: "\(entry.name) appears more than once")
            }
            switch check(entry) {
            case .accept(let value): accepted.append((entry.name, value))
            case .refuse(let fault): faults.append(fault)
            }
        }
        guard faults.isEmpty else { throw CWMPFault(code: .invalidArguments, parameterFaults: faults) }
        var writes: [DataModelWrite] = []
        for (path, value) in accepted {
            let old = self.value(path) ?? value
            set(path, value)
            writes.append(.parameter(path: path, oldValue: old, newValue: value))
        }
        set(rootPath + "ManagementServer.ParameterKey", .string(parameterKey))
        return writes
    }

    /// The value to store for one SetParameterValues entry, or why it is refused. A value whose
    /// `xsi:type` differs from the parameter's is accepted when its text parses as the right type
    /// (many ACSs send numbers as strings); otherwise a string is a bad value (9007) and any other
    /// type a wrong type (9006).
    func check(_ entry: CWMPParameterValue) -> Check {
        func fault(_ code: CWMPFaultCode, _ message: String) -> Check {
            .refuse(CWMPFault.ParameterFault(parameterName: entry.name, code: code, message: message))
        }
        guard case .parameter(let parameter) = nodes[entry.name] else {
            return fault(.invalidParameterName, nodes[entry.name] == nil ? "no such parameter" : "an object, not a parameter")
        }
        guard parameter.definition.writable else { return fault(.notWritable, "parameter is read-only") }
        var value = entry.value
        if value.type != parameter.definition.type {
            guard let converted = try? TypedValue(parsing: value.lexical, as: parameter.definition.type) else {
                return value.type == .string
                    ? fault(.invalidParameterValue, "\"\(value.lexical)\" is not a valid \(parameter.definition.type.rawValue)")
                    : fault(.invalidParameterType, "expected \(parameter.definition.type.xsdName), got \(value.type.xsdName)")
            }
            value = converted
        }
        if let violation = parameter.definition.constraint?.violation(by: value) {
            return fault(.invalidParameterValue, violation)
        }
        return .accept(value)
    }

    enum Check {
        case accept(TypedValue)
        case refuse(CWMPFault.ParameterFault)
    }

    /// GetParameterAttributes (A.3.2.5): names or partial paths.
    public func getParameterAttributes(names: [String]) throws(CWMPFault) -> [CWMPParameterAttribute] {
        var out: [CWMPParameterAttribute] = []
        for name in names {
            let path = name.isEmpty ? rootPath : name
            guard nodes[path] != nil else { throw CWMPFault(code: .invalidParameterName, message: "\(name) does not exist") }
            for (parameterPath, parameter) in parameters(under: path) {
                out.append(CWMPParameterAttribute(name: parameterPath, notification: parameter.notification, accessList: parameter.accessList))
            }
        }
        return out
    }

    /// SetParameterAttributes (A.3.2.4): all or nothing; 9009 when active notification is asked of
    /// a parameter that denies it, 9003 for a notification outside 0-6 or an access list entry
    /// other than `Subscriber`.
    public mutating func setParameterAttributes(_ entries: [CWMPSetParameterAttribute]) throws(CWMPFault) {
        var updates: [(String, CWMPSetParameterAttribute)] = []
        for entry in entries {
            let path = entry.name.isEmpty ? rootPath : entry.name
            guard nodes[path] != nil else { throw CWMPFault(code: .invalidParameterName, message: "\(entry.name) does not exist") }
            if entry.notificationChange && !(0...6).contains(entry.notification) {
                throw CWMPFault(code: .invalidArguments, message: "notification \(entry.notification) is not 0 to 6")
            }
            if entry.accessListChange && entry.accessList.contains(where: { $0 != "Subscriber" }) {
                throw CWMPFault(code: .invalidArguments, message: "the only access list entry is Subscriber")
            }
            for (parameterPath, parameter) in parameters(under: path) {
                if entry.notificationChange && entry.notification == 2 && parameter.definition.deniesActiveNotification {
                    throw CWMPFault(code: .notificationRejected, message: "\(parameterPath) does not support active notification")
                }
                updates.append((parameterPath, entry))
            }
        }
        for (path, entry) in updates {
            guard case .parameter(var parameter) = nodes[path] else { continue }
            if entry.notificationChange { parameter.notification = entry.notification }
            if entry.accessListChange { parameter.accessList = entry.accessList }
            nodes[path] = .parameter(parameter)
        }
    }

    /// AddObject (A.3.2.6): `objectName` is a writable table path (`Device.WiFi.SSID.`). Returns
    /// the new instance number; stores `parameterKey`.
    public mutating func addObject(_ objectName: String, parameterKey: String) throws(CWMPFault) -> UInt32 {
        guard parameterKey.count <= 32 else { throw CWMPFault(code: .invalidArguments, message: "ParameterKey longer than 32 characters") }
        guard objectName.hasSuffix("."), case .object(let object) = nodes[objectName] else {
            throw CWMPFault(code: .invalidParameterName, message: "\(objectName) is not an object")
        }
        guard case .table(let table) = object.kind else {
            throw CWMPFault(code: .invalidParameterName, message: "\(objectName) is not a multi-instance object")
        }
        guard table.writable else { throw CWMPFault(code: .requestDenied, message: "instances of \(objectName) cannot be added") }
        guard let number = addInstance(to: objectName) else {
            throw CWMPFault(code: .resourcesExceeded, message: "\(objectName) holds its maximum of \(table.maxEntries ?? 0) instances")
        }
        set(rootPath + "ManagementServer.ParameterKey", .string(parameterKey))
        return number
    }

    /// DeleteObject (A.3.2.7): `objectName` is an instance path (`Device.WiFi.SSID.2.`) of a
    /// writable table; stores `parameterKey`.
    public mutating func deleteObject(_ objectName: String, parameterKey: String) throws(CWMPFault) {
        guard parameterKey.count <= 32 else { throw CWMPFault(code: .invalidArguments, message: "ParameterKey longer than 32 characters") }
        guard objectName.hasSuffix("."), case .object(let object) = nodes[objectName], case .instance(let deletable) = object.kind else {
            throw CWMPFault(code: .invalidParameterName, message: "\(objectName) is not an object instance")
        }
        guard deletable else { throw CWMPFault(code: .requestDenied, message: "\(objectName) cannot be deleted") }
        removeInstance(objectName)
        set(rootPath + "ManagementServer.ParameterKey", .string(parameterKey))
    }
}
