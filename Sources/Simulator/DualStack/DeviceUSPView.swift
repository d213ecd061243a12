import CWMP
import TandemCore
import USP
import USPAgentSimulator

/// The USP view of a dual-stack device's CWMP data model (protocol digest D.1): the same
/// parameters under the names the USP model gives them.
///
/// - `Device.LocalAgent.X` is the CWMP model's `Device.USPAgent.X` (EndpointID, MTP, Controller).
/// - `Device.LocalAgent.Subscription.` and `Request.` exist only in the USP model; they live in
///   `extras`.
/// - `Device.CWMPManagementServer.EnableCWMP` is `Device.ManagementServer.EnableCWMP` (TR-181 2.15
///   lets a USP Controller switch CWMP off); the rest of `Device.ManagementServer.` and the CWMP
///   names `Device.USPAgent.` do not exist over USP.
/// - Everything else (`Device.DeviceInfo.`, `Device.WiFi.` ...) is shared as is.
///
/// Writes are checked by the rules SetParameterValues applies (type, range, writability) and
/// recorded in `writes`, so that the device reacts to them as it does to the ACS's.
struct DeviceUSPView: USPAgentModel {
    var model: DataModel
    var extras: AgentDataModel
    /// The changes made through the view, in CWMP names.
    var writes: [DataModelWrite] = []

    static let cwmpAgent = "Device.USPAgent."
    static let uspAgent = "Device.LocalAgent."
    static let cwmpEnable = "Device.ManagementServer.EnableCWMP"
    static let uspEnable = "Device.CWMPManagementServer.EnableCWMP"
    /// USP-only tables under `Device.LocalAgent.`.
    static let uspOnly = ["Device.LocalAgent.Subscription.", "Device.LocalAgent.Request."]

    /// The USP-only part of a factory-fresh device: empty subscription and request tables.
    static var factoryExtras: AgentDataModel {
        var extras = AgentDataModel()
        for table in uspOnly { extras.addTable(table) }
        return extras
    }

    static func isUSPOnly(_ path: String) -> Bool { uspOnly.contains { path.hasPrefix($0) } }

    /// The CWMP name of a USP path, or nil when the path does not exist over USP.
    static func cwmpPath(_ path: String) -> String? {
        if path == uspEnable { return cwmpEnable }
        if path.hasPrefix(uspAgent) { return cwmpAgent + path.dropFirst(uspAgent.count) }
        if path.hasPrefix(cwmpAgent) || path.hasPrefix("Device.ManagementServer.") || path.hasPrefix("Device.CWMPManagementServer.") {
            return nil
        }
        return path
    }

    /// The USP name of a CWMP parameter, or nil when USP does not see it.
    static func uspPath(_ path: String) -> String? {
        if path == cwmpEnable { return uspEnable }
        if path == cwmpAgent + "AddCertificate" { return nil }  // a CWMP-only command parameter
        if path.hasPrefix(cwmpAgent) { return uspAgent + path.dropFirst(cwmpAgent.count) }
        if path.hasPrefix("Device.ManagementServer.") { return nil }
        return path
    }

    /// The USP error for a SetParameterValues refusal.
    static func uspCode(_ code: CWMPFaultCode) -> USPErrorCode {
        switch code {
        case .invalidParameterName: .invalidPath
        case .notWritable: .notWritable
        case .invalidParameterType: .invalidType
        default: .invalidValue
        }
    }

    // MARK: USPAgentModel

    func resolve(_ path: String) -> [(String, AgentDataModel.Entry)] {
        let pattern = AgentDataModel.PathPattern(path)
        var out: [(String, AgentDataModel.Entry)] = []
        for (cwmp, parameter) in model.parameters() {
            guard let usp = Self.uspPath(cwmp), pattern.matches(usp) else { continue }
            let value = DataModel.visibleValue(parameter).lexical
            out.append((usp, AgentDataModel.Entry(value: value, type: parameter.definition.type, writable: parameter.definition.writable)))
        }
        out += extras.resolve(path)
        return out.sorted { $0.0 < $1.0 }
    }

    func instances(of table: String) -> [String] {
        let base = table.hasSuffix(".") ? table : table + "."
        if Self.isUSPOnly(base) { return extras.instances(of: base) }
        guard let cwmp = Self.cwmpPath(base), let numbers = model.instances(of: cwmp) else { return [] }
        return numbers.map { "\(base)\($0)." }
    }

    func value(_ path: String) -> String? {
        if Self.isUSPOnly(path) { return extras.value(path) }
        return Self.cwmpPath(path).flatMap { model.value($0)?.lexical }
    }

    func checkSet(_ path: String, _ value: String) -> USPErrorCode? {
        if Self.isUSPOnly(path) { return extras.checkSet(path, value) }
        guard let cwmp = Self.cwmpPath(path) else { return .invalidPath }
        switch model.check(CWMPParameterValue(name: cwmp, value: .string(value))) {
        case .accept: return nil
        case .refuse(let fault): return Self.uspCode(fault.code)
        }
    }

    mutating func set(_ path: String, _ value: String) {
        if Self.isUSPOnly(path) { return extras.set(path, value) }
        guard let cwmp = Self.cwmpPath(path), case .accept(let typed) = model.check(CWMPParameterValue(name: cwmp, value: .string(value))) else {
            return
        }
        let old = model.value(cwmp) ?? typed
        model.set(cwmp, typed)
        writes.append(.parameter(path: cwmp, oldValue: old, newValue: typed))
    }

    mutating func update(_ path: String, _ value: String, type: ValueType) {
        if Self.isUSPOnly(path) { return extras.update(path, value, type: type) }
        guard let cwmp = Self.cwmpPath(path), let parameter = model.parameter(cwmp),
            let typed = try? TypedValue(parsing: value, as: parameter.definition.type)
        else { return }
        model.set(cwmp, typed)
    }

    mutating func add(_ table: String, _ settings: [String: String]) throws(USPFailure) -> String {
        let base = table.hasSuffix(".") ? table : table + "."
        if Self.isUSPOnly(base) { return try extras.add(base, settings) }
        guard let cwmp = Self.cwmpPath(base), case .object(let object) = model.nodes[cwmp] else {
            throw USPFailure(code: .invalidPath, message: "\(base) does not exist")
        }
        guard case .table(let info) = object.kind else { throw USPFailure(code: .notATable, message: "\(base) is not a table") }
        guard info.writable else { throw USPFailure(code: .notCreatable, message: "instances of \(base) cannot be added") }
        var copy = model
        guard let number = copy.addInstance(to: cwmp) else {
            throw USPFailure(code: .resourcesExceeded, message: "\(base) holds its maximum of \(info.maxEntries ?? 0) instances")
        }
        let instance = "\(cwmp)\(number)."
        var added: [DataModelWrite] = [.objectAdded(path: instance)]
        for (name, value) in settings.sorted(by: { $0.key < $1.key }) {
            let path = instance + name
            switch copy.check(CWMPParameterValue(name: path, value: .string(value))) {
            case .accept(let typed):
                let old = copy.value(path) ?? typed
                copy.set(path, typed)
                added.append(.parameter(path: path, oldValue: old, newValue: typed))
            case .refuse(let fault):
                throw USPFailure(code: Self.uspCode(fault.code), message: "\(name): \(fault.message)")
            }
        }
        model = copy
        writes += added
        return "\(base)\(number)."
    }

    mutating func delete(_ instance: String) -> Bool {
        let base = instance.hasSuffix(".") ? instance : instance + "."
        if Self.isUSPOnly(base) { return extras.delete(base) }
        guard let cwmp = Self.cwmpPath(base), case .object(let object) = model.nodes[cwmp], case .instance(true) = object.kind,
            model.removeInstance(cwmp)
        else { return false }
        writes.append(.objectDeleted(path: cwmp))
        return true
    }
}
