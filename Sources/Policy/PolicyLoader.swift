import Foundation
import TandemCore
import Yams

/// A policy file error with its position: `policies.yaml:12:7: unknown key "tag" (did you mean "tags"?)`.
public struct PolicyError: Error, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var message: String

    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { "\(file):\(line):\(column): \(message)" }
}

/// Every error found in a policy file, in file order.
public struct PolicyValidationError: Error, Hashable, Sendable, CustomStringConvertible {
    public var errors: [PolicyError]
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// Reads a policy file (YAML; JSON is accepted, being YAML too) into a validated document. It
/// reports every problem it finds, each with file, line and column, rather than the first only.
public struct PolicyLoader {
    /// Largest accepted file; policies are small and YAML aliases can multiply a document.
    public static let maximumBytes = 4 << 20
    /// Nodes visited at most (aliases repeat nodes; this bounds a "billion laughs" document).
    public static let maximumNodes = 200_000

    let file: String
    private var errors: [PolicyError] = []
    private var visited = 0

    /// Parses and validates `text`, read from `file` (the name used in messages).
    public static func load(_ text: String, file: String) throws(PolicyValidationError) -> PolicyDocument {
        var loader = PolicyLoader(file: file)
        let document = loader.read(text)
        if !loader.errors.isEmpty { throw PolicyValidationError(errors: loader.errors) }
        return document
    }

    private init(file: String) { self.file = file }

    // MARK: Document

    private mutating func read(_ text: String) -> PolicyDocument {
        guard text.utf8.count <= Self.maximumBytes else {
            fail(at: nil, "the file is larger than \(Self.maximumBytes >> 20) MiB")
            return PolicyDocument()
        }
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                fail(at: nil, "the file is empty; expected \"policies:\" and/or \"migrations:\"")
                return PolicyDocument()
            }
            root = node
        } catch let error as YamlError {
            record(error)
            return PolicyDocument()
        } catch {
            fail(at: nil, "cannot parse: \(error)")
            return PolicyDocument()
        }
        guard let fields = mapping(root, keys: ["version", "policies", "migrations"], what: "the policy file") else { return PolicyDocument() }
        if let version = fields["version"], let number = integer(version), number != 1 {
            fail(at: version, "unsupported version \(number); this Tandem reads version 1")
        }
        var policies: [Policy] = []
        if let node = fields["policies"] {
            for item in sequence(node, what: "policies") { if let policy = policy(item) { policies.append(policy) } }
        }
        var migrations: [MigrationPlan] = []
        if let node = fields["migrations"] {
            for item in sequence(node, what: "migrations") { if let plan = migration(item) { migrations.append(plan) } }
        }
        if fields["policies"] == nil && fields["migrations"] == nil {
            fail(at: root, "expected \"policies:\" and/or \"migrations:\"")
        }
        checkUnique(policies.map(\.name), in: fields["policies"], what: "policy")
        checkUnique(migrations.map(\.name), in: fields["migrations"], what: "migration")
        return PolicyDocument(policies: policies, migrations: migrations)
    }

    private mutating func checkUnique(_ names: [String], in node: Node?, what: String) {
        var seen = Set<String>()
        for (index, name) in names.enumerated() where !seen.insert(name).inserted {
            let item = node.flatMap { $0.sequence.map(Array.init) }.flatMap { index < $0.count ? $0[index] : nil }
            fail(at: item, "a \(what) named \"\(name)\" is defined twice")
        }
    }

    // MARK: Policies

    private mutating func policy(_ node: Node) -> Policy? {
        guard let fields = mapping(node, keys: ["name", "order", "triggers", "select", "ensure"], what: "a policy") else { return nil }
        guard let name = requiredName(fields, in: node, what: "policy") else { return nil }
        let order = fields["order"].flatMap { integer($0) } ?? 0
        var triggers = Set(PolicyTrigger.allCases)
        if let node = fields["triggers"] {
            triggers = []
            for item in stringList(node, what: "triggers") {
                if let trigger = PolicyTrigger(rawValue: item.text) {
                    triggers.insert(trigger)
                } else {
                    fail(at: item.node, "unknown trigger \"\(item.text)\"\(suggestion(item.text, PolicyTrigger.allCases.map(\.rawValue))); expected one of "
                        + PolicyTrigger.allCases.map(\.rawValue).joined(separator: ", "))
                }
            }
        }
        let selector = fields["select"].map { self.selector($0) } ?? DeviceSelector()
        guard let ensure = fields["ensure"] else {
            fail(at: node, "policy \"\(name)\" has no \"ensure:\" section")
            return nil
        }
        let desired = desiredState(ensure)
        if desired.isEmpty { fail(at: ensure, "policy \"\(name)\" ensures nothing") }
        return Policy(name: name, order: order, triggers: triggers, selector: selector, desired: desired)
    }

    private mutating func desiredState(_ node: Node) -> DesiredState {
        guard let fields = mapping(node, keys: ["parameters", "objects", "firmware"], what: "\"ensure\"") else { return DesiredState() }
        var state = DesiredState()
        if let node = fields["parameters"] {
            for (key, value) in pairs(node, what: "parameters") {
                guard let path = parameterPath(key) else { continue }
                if let typed = self.value(value, at: path) { state.parameters.append(DesiredParameter(path: path, value: typed)) }
            }
        }
        if let node = fields["objects"] {
            for item in sequence(node, what: "objects") {
                guard let object = mapping(item, keys: ["table", "key", "values"], what: "an object") else { continue }
                guard let tableNode = object["table"] else { fail(at: item, "an object needs \"table:\", such as Device.WiFi.SSID."); continue }
                guard let table = tablePath(tableNode) else { continue }
                guard let keyNode = object["key"] else { fail(at: item, "object \(table) needs \"key:\": the values that identify its instance"); continue }
                let key = relativeValues(keyNode, table: table)
                if key.isEmpty { fail(at: keyNode, "object \(table) has an empty key") }
                let values = object["values"].map { relativeValues($0, table: table) } ?? [:]
                state.objects.append(DesiredObject(table: table, key: key, values: values))
            }
        }
        if let node = fields["firmware"], let firmware = mapping(node, keys: ["version", "url", "fileSize", "username", "password"], what: "\"firmware\"") {
            let version = firmware["version"].flatMap { string($0) }
            let url = firmware["url"].flatMap { string($0) }
            if version == nil { fail(at: node, "firmware needs \"version:\"") }
            if url == nil { fail(at: node, "firmware needs \"url:\"") }
            if let urlNode = firmware["url"], let url, let problem = FileTransfer(kind: .firmware, url: url).validationMessage {
                fail(at: urlNode, problem)
            }
            let size = firmware["fileSize"].flatMap { integer($0) }.flatMap(UInt32.init(exactly:))
            if let version, let url {
                state.firmware = FirmwareTarget(
                    version: version, url: url, fileSize: size, username: firmware["username"].flatMap { string($0) },
                    password: firmware["password"].flatMap { string($0) })
            }
        }
        return state
    }

    private mutating func relativeValues(_ node: Node, table: String) -> [String: TypedValue] {
        var values: [String: TypedValue] = [:]
        for (key, value) in pairs(node, what: "values of \(table)") {
            guard let name = string(key) else { continue }
            guard !name.isEmpty, !name.hasPrefix("."), !name.hasSuffix("."), (try? PathExpression(table + "1." + name))?.kind == .parameter else {
                fail(at: key, "\"\(name)\" is not a parameter name relative to \(table)")
                continue
            }
            if let typed = self.value(value, at: table + "{i}." + name) { values[name] = typed }
        }
        return values
    }

    // MARK: Selectors

    private mutating func selector(_ node: Node) -> DeviceSelector {
        let keys = ["manufacturer", "oui", "productClass", "softwareVersion", "tags", "protocol", "parameters", "percent"]
        guard let fields = mapping(node, keys: keys, what: "\"select\"") else { return DeviceSelector() }
        var selector = DeviceSelector()
        if let node = fields["manufacturer"] { selector.manufacturers = stringList(node, what: "manufacturer").map(\.text) }
        if let node = fields["oui"] {
            for item in stringList(node, what: "oui") {
                if item.text.count == 6, item.text.allSatisfy(\.isHexDigit) {
                    selector.ouis.append(item.text.uppercased())
                } else {
                    fail(at: item.node, "\"\(item.text)\" is not an OUI (six hexadecimal digits)")
                }
            }
        }
        if let node = fields["productClass"] { selector.productClasses = stringList(node, what: "productClass").map(\.text) }
        if let node = fields["softwareVersion"], let text = string(node) {
            do { selector.softwareVersion = try VersionRange(parsing: text) } catch { fail(at: node, error.message) }
        }
        if let node = fields["tags"] { selector.tags = stringList(node, what: "tags").map(\.text) }
        if let node = fields["protocol"], let text = string(node) {
            if let value = ManagementProtocol(rawValue: text.lowercased()) {
                selector.activeProtocol = value
            } else {
                fail(at: node, "protocol must be cwmp or usp, not \"\(text)\"")
            }
        }
        if let node = fields["percent"], let percent = number(node) {
            if percent > 0 && percent <= 100 { selector.percent = percent } else { fail(at: node, "percent must be in (0, 100], not \(percent)") }
        }
        if let node = fields["parameters"] {
            for item in sequence(node, what: "parameter conditions") {
                let tests = ["equals", "notEquals", "contains", "lessThan", "greaterThan", "exists"]
                guard let condition = mapping(item, keys: ["path"] + tests, what: "a parameter condition") else { continue }
                guard let pathNode = condition["path"], let path = parameterPath(pathNode) else {
                    if condition["path"] == nil { fail(at: item, "a parameter condition needs \"path:\"") }
                    continue
                }
                let given = tests.filter { condition[$0] != nil }
                guard given.count == 1, let name = given.first, let operand = condition[name] else {
                    fail(at: item, "a parameter condition needs exactly one of " + tests.joined(separator: ", "))
                    continue
                }
                let test: ParameterCondition.Test
                switch name {
                case "exists":
                    guard let flag = boolean(operand) else { continue }
                    test = .exists(flag)
                default:
                    guard let text = string(operand) else { continue }
                    switch name {
                    case "equals": test = .equals(text)
                    case "notEquals": test = .notEquals(text)
                    case "contains": test = .contains(text)
                    case "lessThan": test = .lessThan(text)
                    default: test = .greaterThan(text)
                    }
                }
                selector.parameters.append(ParameterCondition(path: path, test: test))
            }
        }
        return selector
    }

    // MARK: Migrations

    private mutating func migration(_ node: Node) -> MigrationPlan? {
        let keys = [
            "name", "select", "target", "controllerEndpointID", "vendorTemplates", "waves", "maxPerHour", "maintenanceWindows",
            "verifyWithin", "disableCWMP", "pauseAboveFailureRatio", "minimumSample",
        ]
        guard let fields = mapping(node, keys: keys, what: "a migration") else { return nil }
        guard let name = requiredName(fields, in: node, what: "migration") else { return nil }
        guard let targetNode = fields["target"] else {
            fail(at: node, "migration \"\(name)\" needs \"target:\" (mtp mqtt, websocket or stomp, with its address)")
            return nil
        }
        guard let target = target(targetNode) else { return nil }
        guard let controllerNode = fields["controllerEndpointID"], let controller = string(controllerNode) else {
            if fields["controllerEndpointID"] == nil { fail(at: node, "migration \"\(name)\" needs \"controllerEndpointID:\"") }
            return nil
        }
        if (try? EndpointID(controller)) == nil {
            fail(at: controllerNode, "\"\(controller)\" is not a USP endpoint ID (such as proto::tandem-controller)")
        }
        var plan = MigrationPlan(name: name, target: target, controllerEndpointID: controller)
        if let node = fields["select"] { plan.selector = selector(node) }
        if let node = fields["waves"] {
            var waves: [MigrationPlan.Wave] = []
            for (index, item) in sequence(node, what: "waves").enumerated() {
                guard let wave = mapping(item, keys: ["name", "percent"], what: "a wave") else { continue }
                guard let percentNode = wave["percent"], let percent = number(percentNode) else {
                    if wave["percent"] == nil { fail(at: item, "a wave needs \"percent:\" (cumulative share of the selected devices)") }
                    continue
                }
                if !(percent > 0 && percent <= 100) { fail(at: percentNode, "percent must be in (0, 100], not \(percent)") }
                if let previous = waves.last, percent <= previous.percent {
                    fail(at: percentNode, "wave percentages are cumulative and must grow: \(percent) follows \(previous.percent)")
                }
                waves.append(MigrationPlan.Wave(name: wave["name"].flatMap { string($0) } ?? "wave \(index + 1)", percent: percent))
            }
            if waves.isEmpty { fail(at: node, "\"waves\" is empty") } else { plan.waves = waves }
        }
        if let node = fields["maxPerHour"], let value = integer(node) {
            if value > 0 { plan.maxPerHour = value } else { fail(at: node, "maxPerHour must be positive") }
        }
        if let node = fields["maintenanceWindows"] {
            for item in stringList(node, what: "maintenanceWindows") {
                do { plan.maintenanceWindows.append(try MaintenanceWindow(parsing: item.text)) } catch { fail(at: item.node, error.message) }
            }
        }
        if let node = fields["verifyWithin"] {
            if let seconds = duration(node) { plan.verifyWithinSeconds = seconds }
        }
        if let node = fields["disableCWMP"], let flag = boolean(node) { plan.disableCWMP = flag }
        if let node = fields["pauseAboveFailureRatio"], let ratio = number(node) {
            if (0...1).contains(ratio) { plan.pauseAboveFailureRatio = ratio } else { fail(at: node, "pauseAboveFailureRatio must be between 0 and 1") }
        }
        if let node = fields["minimumSample"], let value = integer(node) {
            if value > 0 { plan.minimumSample = value } else { fail(at: node, "minimumSample must be positive") }
        }
        if let node = fields["vendorTemplates"] {
            for item in sequence(node, what: "vendorTemplates") {
                guard let template = mapping(item, keys: ["name", "select", "parameters"], what: "a vendor template") else { continue }
                guard let templateName = requiredName(template, in: item, what: "vendor template") else { continue }
                guard let selectNode = template["select"] else { fail(at: item, "vendor template \"\(templateName)\" needs \"select:\""); continue }
                var parameters: [DesiredParameter] = []
                if let node = template["parameters"] {
                    for (key, value) in pairs(node, what: "parameters") {
                        guard let path = parameterPath(key) else { continue }
                        if let typed = self.value(value, at: path) { parameters.append(DesiredParameter(path: path, value: typed)) }
                    }
                }
                if parameters.isEmpty { fail(at: item, "vendor template \"\(templateName)\" sets no parameters") }
                plan.vendorTemplates.append(VendorTemplate(name: templateName, selector: selector(selectNode), parameters: parameters))
            }
        }
        return plan
    }

    private mutating func target(_ node: Node) -> MigrationTarget? {
        let keys = ["mtp", "host", "port", "protocolVersion", "agentTopic", "controllerTopic", "path", "encrypted", "agentDestination", "controllerDestination"]
        guard let fields = mapping(node, keys: keys, what: "\"target\"") else { return nil }
        guard let mtpNode = fields["mtp"], let mtp = string(mtpNode)?.lowercased() else {
            if fields["mtp"] == nil { fail(at: node, "target needs \"mtp:\" (mqtt, websocket or stomp)") }
            return nil
        }
        guard let hostNode = fields["host"], let host = string(hostNode), !host.isEmpty else {
            fail(at: node, "target needs \"host:\"")
            return nil
        }
        func port(default value: Int) -> Int? {
            guard let node = fields["port"] else { return value }
            guard let port = integer(node) else { return nil }
            guard (1...65535).contains(port) else { fail(at: node, "port must be between 1 and 65535"); return nil }
            return port
        }
        func text(_ key: String, default value: String) -> String { fields[key].flatMap { string($0) } ?? value }
        let allowed: Set<String>
        let result: MigrationTarget?
        switch mtp {
        case "mqtt":
            allowed = ["mtp", "host", "port", "protocolVersion", "agentTopic", "controllerTopic"]
            let version = text("protocolVersion", default: "5.0")
            if !["3.1.1", "5.0"].contains(version) { fail(at: fields["protocolVersion"], "protocolVersion must be 3.1.1 or 5.0") }
            result = port(default: 1883).map {
                .mqtt(host: host, port: $0, protocolVersion: version, agentTopic: text("agentTopic", default: "usp/agent/{{endpointID}}"),
                    controllerTopic: text("controllerTopic", default: "usp/controller"))
            }
        case "websocket":
            allowed = ["mtp", "host", "port", "path", "encrypted"]
            let encrypted = fields["encrypted"].flatMap { boolean($0) } ?? false
            result = port(default: encrypted ? 443 : 80).map { .webSocket(host: host, port: $0, path: text("path", default: "/usp"), encrypted: encrypted) }
        case "stomp":
            allowed = ["mtp", "host", "port", "agentDestination", "controllerDestination"]
            result = port(default: 61613).map {
                .stomp(host: host, port: $0, agentDestination: text("agentDestination", default: "/queue/usp.agent.{{endpointID}}"),
                    controllerDestination: text("controllerDestination", default: "/queue/usp.controller"))
            }
        default:
            fail(at: mtpNode, "unknown mtp \"\(mtp)\"; expected mqtt, websocket or stomp")
            return nil
        }
        for key in fields.keys where !allowed.contains(key) {
            fail(at: fields[key], "\"\(key)\" does not apply to an \(mtp) target")
        }
        return result
    }

    // MARK: Values

    private mutating func requiredName(_ fields: [String: Node], in node: Node, what: String) -> String? {
        guard let nameNode = fields["name"] else {
            fail(at: node, "a \(what) needs \"name:\"")
            return nil
        }
        guard let name = string(nameNode), !name.isEmpty, name.count <= 64, !name.contains(where: { $0.isWhitespace }) else {
            fail(at: nameNode, "a \(what) name is 1 to 64 characters without spaces")
            return nil
        }
        return name
    }

    private mutating func parameterPath(_ node: Node) -> String? {
        guard let text = string(node) else { return nil }
        do {
            let path = try PathExpression(text)
            guard path.root == "Device", path.kind == .parameter, path.isConcrete else {
                fail(at: node, "\"\(text)\" is not a concrete TR-181 parameter path (Device.X.Y)")
                return nil
            }
            return text
        } catch {
            fail(at: node, "\"\(text)\": \(error)")
            return nil
        }
    }

    private mutating func tablePath(_ node: Node) -> String? {
        guard let text = string(node) else { return nil }
        guard let path = try? PathExpression(text), path.root == "Device", path.kind == .object, path.isConcrete,
            case .name = path.segments.last
        else {
            fail(at: node, "\"\(text)\" is not a TR-181 table path ending in '.', such as Device.WiFi.SSID.")
            return nil
        }
        return text
    }

    /// A scalar as a typed value: plain YAML booleans and integers keep their type, anything
    /// quoted is a string; `{value: "...", type: unsignedInt}` names the type explicitly.
    private mutating func value(_ node: Node, at path: String) -> TypedValue? {
        count(node)
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain || scalar.style == .any {
                if let flag = BooleanText.parse(scalar.string), ["true", "false", "True", "False", "TRUE", "FALSE"].contains(scalar.string) {
                    return .boolean(flag)
                }
                if let number = Int64(scalar.string) {
                    if let small = UInt32(exactly: number) { return .unsignedInt(small) }
                    if let small = Int32(exactly: number) { return .int(small) }
                    return .long(number)
                }
            }
            return .string(scalar.string)
        case .mapping:
            guard let fields = mapping(node, keys: ["value", "type"], what: "a typed value") else { return nil }
            guard let textNode = fields["value"], let text = string(textNode) else {
                if fields["value"] == nil { fail(at: node, "a typed value needs \"value:\"") }
                return nil
            }
            guard let typeNode = fields["type"] else { return .string(text) }
            guard let typeName = string(typeNode), let type = ValueType(rawValue: typeName) else {
                fail(at: typeNode, "unknown type; expected one of " + ValueType.allCases.map(\.rawValue).joined(separator: ", "))
                return nil
            }
            do { return try TypedValue(parsing: text, as: type) } catch {
                fail(at: textNode, "\(path): \(error.message)")
                return nil
            }
        default:
            fail(at: node, "\(path): expected a value")
            return nil
        }
    }

    private mutating func duration(_ node: Node) -> Int? {
        guard let text = string(node) else { return nil }
        let units: [(Character, Int)] = [("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)]
        if let seconds = Int(text), seconds > 0 { return seconds }
        if let last = text.last, let unit = units.first(where: { $0.0 == last }), let amount = Int(text.dropLast()), amount > 0 {
            return amount * unit.1
        }
        fail(at: node, "\"\(text)\" is not a duration (seconds, or a number with s, m, h or d)")
        return nil
    }

    private mutating func string(_ node: Node) -> String? {
        count(node)
        guard case .scalar(let scalar) = node else {
            fail(at: node, "expected a text value")
            return nil
        }
        return scalar.string
    }

    private mutating func integer(_ node: Node) -> Int? {
        guard let text = string(node) else { return nil }
        guard let value = Int(text) else { fail(at: node, "expected a whole number, not \"\(text)\""); return nil }
        return value
    }

    private mutating func number(_ node: Node) -> Double? {
        guard let text = string(node) else { return nil }
        guard let value = Double(text), value.isFinite else { fail(at: node, "expected a number, not \"\(text)\""); return nil }
        return value
    }

    private mutating func boolean(_ node: Node) -> Bool? {
        guard let text = string(node) else { return nil }
        guard let value = BooleanText.parse(text) else { fail(at: node, "expected true or false, not \"\(text)\""); return nil }
        return value
    }

    private mutating func stringList(_ node: Node, what: String) -> [(text: String, node: Node)] {
        if case .scalar = node { return string(node).map { [($0, node)] } ?? [] }
        return sequence(node, what: what).compactMap { item in string(item).map { ($0, item) } }
    }

    private mutating func sequence(_ node: Node, what: String) -> [Node] {
        count(node)
        guard case .sequence(let items) = node else {
            fail(at: node, "\"\(what)\" must be a list")
            return []
        }
        return Array(items)
    }

    private mutating func pairs(_ node: Node, what: String) -> [(Node, Node)] {
        count(node)
        guard case .mapping(let mapping) = node else {
            fail(at: node, "\"\(what)\" must be a mapping of names to values")
            return []
        }
        return mapping.map { ($0.key, $0.value) }
    }

    /// The fields of a mapping; unknown and repeated keys are reported (with a suggestion).
    private mutating func mapping(_ node: Node, keys: [String], what: String) -> [String: Node]? {
        count(node)
        guard case .mapping(let mapping) = node else {
            fail(at: node, "\(what) must be a mapping (key: value)")
            return nil
        }
        var fields: [String: Node] = [:]
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else { fail(at: key, "keys must be text"); continue }
            let name = scalar.string
            if !keys.contains(name) {
                fail(at: key, "unknown key \"\(name)\" in \(what)\(suggestion(name, keys))")
            } else if fields[name] != nil {
                fail(at: key, "\"\(name)\" is given twice")
            } else {
                fields[name] = value
            }
        }
        return fields
    }

    private mutating func count(_ node: Node) {
        visited += 1
        if visited == Self.maximumNodes { fail(at: node, "the document has more than \(Self.maximumNodes) values (aliases included)") }
    }

    // MARK: Errors

    private mutating func fail(at node: Node?, _ message: String) {
        guard visited <= Self.maximumNodes || message.contains("more than") else { return }
        let mark = node?.mark
        errors.append(PolicyError(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1, message: message))
    }

    private mutating func record(_ error: YamlError) {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _), .composer(let context, let problem, let mark, _):
            let prefix = context.map { "\($0.text): " } ?? ""
            errors.append(PolicyError(file: file, line: mark.line, column: mark.column, message: "YAML syntax: \(prefix)\(problem)"))
        case .reader(let problem, _, _, _):
            errors.append(PolicyError(file: file, line: 1, column: 1, message: "cannot read the file: \(problem)"))
        default:
            errors.append(PolicyError(file: file, line: 1, column: 1, message: "cannot parse: \(error)"))
        }
    }

    private func suggestion(_ name: String, _ candidates: [String]) -> String {
        let best = candidates.map { ($0, Self.distance(name.lowercased(), $0.lowercased())) }.min { $0.1 < $1.1 }
        guard let best, best.1 <= max(2, name.count / 3) else { return "" }
        return " (did you mean \"\(best.0)\"?)"
    }

    static func distance(_ a: String, _ b: String) -> Int {
        let x = Array(a), y = Array(b)
        guard !x.isEmpty else { return y.count }
        guard !y.isEmpty else { return x.count }
        var previous = Array(0...y.count)
        for i in 1...x.count {
            var current = [i] + Array(repeating: 0, count: y.count)
            for j in 1...y.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[y.count]
    }
}

extension FileTransfer {
    /// The validation failure's message, or nil when the transfer is valid.
    var validationMessage: String? {
        do { try validate() } catch { return error.message }
        return nil
    }
}
