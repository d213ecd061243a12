import CWMP
import TandemCore

/// The parameter tree of one simulated device: objects, multi-instance tables and parameters with
/// their values and notification attributes, in a stable order.
///
/// A value type: the device owns one, copies it to keep its factory state, and mutates it in the
/// RPC handlers. The ACS-facing operations (`getParameterNames`, `setParameterValues`, ...) throw
/// the `CWMPFault` a CPE would answer with; the local ones (`set(_:_:)`, `addInstance(to:values:)`)
/// bypass writability, as the device's own firmware does.
///
/// Instance numbers are never reused: each table counts up from 1 and keeps counting after
/// DeleteObject (TR-069 3.6.1). Only a factory reset restores the counters.
public struct DataModel: Sendable {
    /// A parameter with its value and attributes.
    public struct Parameter: Sendable {
        public var definition: ParameterDefinition
        public var value: TypedValue
        /// 0 off, 1 passive, 2 active (SetParameterAttributes).
        public var notification: Int
        public var accessList: [String]
    }

    struct Table: Sendable {
        var definition: ObjectDefinition
        var writable: Bool
        /// Full path of the parent's `...NumberOfEntries` parameter.
        var countParameter: String?
        var maxEntries: Int?
        var nextInstance: UInt32
    }

    struct Object: Sendable {
        enum Kind: Sendable {
            case single
            case table(Table)
            case instance(deletable: Bool)
        }
        var kind: Kind
        /// Full paths of parameters and child objects, in listing order.
        var children: [String]
    }

    enum Node: Sendable {
        case parameter(Parameter)
        case object(Object)
    }

    /// `Device` or `InternetGatewayDevice`.
    public let rootName: String
    var nodes: [String: Node] = [:]

    /// Builds the tree from its definition; tables start empty.
    public init(rootName: String, definition: ObjectDefinition) {
        self.rootName = rootName
        instantiate(definition, at: rootPath, kind: .single)
    }

    /// `Device.` or `InternetGatewayDevice.`.
    public var rootPath: String { rootName + "." }

    // MARK: Reading

    /// The stored value (hidden values included), or nil when `path` names no parameter.
    public func value(_ path: String) -> TypedValue? {
        if case .parameter(let parameter) = nodes[path] { parameter.value } else { nil }
    }

    /// The parameter at `path`, or nil.
    public func parameter(_ path: String) -> Parameter? {
        if case .parameter(let parameter) = nodes[path] { parameter } else { nil }
    }

    /// True when `path` (ending in `.`) names an object, table or instance.
    public func isObject(_ path: String) -> Bool {
        if case .object = nodes[path] { true } else { false }
    }

    /// The instance numbers of the table at `path` (ending in `.`), in order; nil when `path` is not
    /// a table.
    public func instances(of path: String) -> [UInt32]? {
        guard case .object(let object) = nodes[path], case .table = object.kind else { return nil }
        return object.children.compactMap { UInt32($0.dropFirst(path.count).dropLast()) }
    }

    /// Every parameter below `path` (an object path, or `""` for all), in listing order.
    public func parameters(under path: String = "") -> [(path: String, parameter: Parameter)] {
        var out: [(String, Parameter)] = []
        for name in subtree(path.isEmpty ? rootPath : path) {
            if case .parameter(let parameter) = nodes[name] { out.append((name, parameter)) }
        }
        return out
    }

    /// The forced-inform parameters with their values as an ACS may read them.
    public var forcedInformParameters: [CWMPParameterValue] {
        parameters().filter { $0.parameter.definition.forcedInform }.map { CWMPParameterValue(name: $0.path, value: Self.visibleValue($0.parameter)) }
    }

    /// The number of parameters.
    public var parameterCount: Int {
        nodes.values.reduce(0) { count, node in if case .parameter = node { count + 1 } else { count } }
    }

    /// Node paths of the subtree at `path`, the node itself first, depth first in listing order.
    func subtree(_ path: String) -> [String] {
        guard let node = nodes[path] else { return [] }
        var out = [path]
        if case .object(let object) = node {
            for child in object.children { out.append(contentsOf: subtree(child)) }
        }
        return out
    }

    /// What an ACS reads: hidden values read as the empty value of their type.
    static func visibleValue(_ parameter: Parameter) -> TypedValue {
        parameter.definition.hidden ? ParameterDefinition.zero(of: parameter.definition.type) : parameter.value
    }

    // MARK: Local changes (the device's own firmware)

    /// Sets a parameter whatever its writability; returns false when `path` names no parameter.
    @discardableResult
    public mutating func set(_ path: String, _ value: TypedValue) -> Bool {
        guard case .parameter(var parameter) = nodes[path] else { return false }
        parameter.value = value
        nodes[path] = .parameter(parameter)
        return true
    }

    /// Adds an instance to the table at `table` (ending in `.`) whatever its writability, with
    /// `values` keyed by path relative to the instance (`SSID`, `Security.KeyPassphrase`).
    /// Returns the instance number.
    @discardableResult
    public mutating func addInstance(to table: String, values: [String: TypedValue] = [:]) -> UInt32? {
        guard case .object(var object) = nodes[table], case .table(var info) = object.kind else { return nil }
        if let maxEntries = info.maxEntries, object.children.count >= maxEntries { return nil }
        let number = info.nextInstance
        info.nextInstance += 1
        let path = "\(table)\(number)."
        object.kind = .table(info)
        object.children.append(path)
        nodes[table] = .object(object)
        instantiate(info.definition, at: path, kind: .instance(deletable: info.writable))
        if case .parameter(var alias) = nodes[path + "Alias"], alias.value.lexical.isEmpty {
            alias.value = .string("cpe-\(number)")
            nodes[path + "Alias"] = .parameter(alias)
        }
        for (name, value) in values { set(path + name, value) }
        updateCount(of: table)
        return number
    }

    /// Removes an instance (`Device.WiFi.SSID.2.`) and everything below it; false when `path` is
    /// not an instance.
    @discardableResult
    public mutating func removeInstance(_ path: String) -> Bool {
        guard case .object(let object) = nodes[path], case .instance = object.kind, let table = Self.parentPath(of: path),
            case .object(var parent) = nodes[table]
        else { return false }
        for name in subtree(path) { nodes[name] = nil }
        parent.children.removeAll { $0 == path }
        nodes[table] = .object(parent)
        updateCount(of: table)
        return true
    }

    // MARK: Construction

    private mutating func instantiate(_ definition: ObjectDefinition, at path: String, kind: Object.Kind) {
        var object = Object(kind: kind, children: [])
        for parameter in definition.parameters {
            let name = path + parameter.name
            nodes[name] = .parameter(Parameter(definition: parameter, value: parameter.defaultValue, notification: 0, accessList: []))
            object.children.append(name)
        }
        for child in definition.children {
            let childPath = path + child.name + "."
            object.children.append(childPath)
            switch child.kind {
            case .single:
                instantiate(child.definition, at: childPath, kind: .single)
            case .table(let writable, let countParameter, let maxEntries):
                let table = Table(
                    definition: child.definition, writable: writable, countParameter: countParameter.map { path + $0 }, maxEntries: maxEntries,
                    nextInstance: 1)
                nodes[childPath] = .object(Object(kind: .table(table), children: []))
            }
        }
        nodes[path] = .object(object)
    }

    private mutating func updateCount(of table: String) {
        guard case .object(let object) = nodes[table], case .table(let info) = object.kind, let countPath = info.countParameter else { return }
        set(countPath, .unsignedInt(UInt32(object.children.count)))
    }

    /// `Device.WiFi.SSID.` for `Device.WiFi.SSID.2.` or `Device.WiFi.SSID.2.SSID`.
    static func parentPath(of path: String) -> String? {
        var trimmed = Substring(path)
        if trimmed.hasSuffix(".") { trimmed = trimmed.dropLast() }
        guard let dot = trimmed.lastIndex(of: ".") else { return nil }
        return String(trimmed[...dot])
    }
}
