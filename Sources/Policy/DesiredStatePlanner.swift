import Foundation
import TandemCore

/// The operations that bring one device to the desired state of the policies that match it,
/// computed from what the registry knows. A converged device plans nothing, so it costs no round
/// trip.
public enum DesiredStatePlanner {
    /// Operations attributed to the policy whose desired state asks for them.
    public struct PlannedOperation: Hashable, Sendable {
        public var policy: String
        public var operation: TandemCore.Operation
        public init(policy: String, operation: TandemCore.Operation) {
            self.policy = policy
            self.operation = operation
        }
    }

    /// Merges the desired states of `policies` (in document order: a later policy wins on the same
    /// parameter or object key) and plans the difference with `device`. Tables the registry knows
    /// nothing about are read first (a `get` this round, the writes next round).
    public static func plan(_ policies: [Policy], for device: DeviceFacts) -> [PlannedOperation] {
        var parameters: [String: (policy: String, value: TypedValue)] = [:]
        var parameterOrder: [String] = []
        var objects: [String: (policy: String, object: DesiredObject)] = [:]
        var objectOrder: [String] = []
        var firmware: (policy: String, target: FirmwareTarget)?
        for policy in policies {
            for parameter in policy.desired.parameters {
                if parameters[parameter.path] == nil { parameterOrder.append(parameter.path) }
                parameters[parameter.path] = (policy.name, parameter.value)
            }
            for object in policy.desired.objects {
                let identity = object.table + object.key.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.lexical)" }.joined(separator: "&")
                if objects[identity] == nil { objectOrder.append(identity) }
                objects[identity] = (policy.name, object)
            }
            if let target = policy.desired.firmware { firmware = (policy.name, target) }
        }

        var reads: [String: [PathExpression]] = [:]
        var writes: [String: [ParameterSetting]] = [:]
        var others: [PlannedOperation] = []
        var policyOrder: [String] = []
        func note(_ policy: String) { if !policyOrder.contains(policy) { policyOrder.append(policy) } }

        for path in parameterOrder {
            let (policy, value) = parameters[path]!
            if let current = device.parameters[path], same(current, value) { continue }
            guard let expression = try? PathExpression(path) else { continue }
            note(policy)
            writes[policy, default: []].append(ParameterSetting(path: expression, value: value))
        }
        for identity in objectOrder {
            let (policy, object) = objects[identity]!
            let instances = instances(of: object.table, in: device.parameters)
            if instances.isEmpty && !device.parameters.keys.contains(where: { $0.hasPrefix(object.table) }) {
                // Nothing known under the table: read it before deciding to add.
                guard let table = try? PathExpression(object.table) else { continue }
                note(policy)
                if !(reads[policy]?.contains(table) ?? false) { reads[policy, default: []].append(table) }
                continue
            }
            let match = instances.first { base in
                object.key.allSatisfy { name, value in device.parameters[base + name].map { same($0, value) } ?? false }
            }
            if let base = match {
                for (name, value) in object.values.sorted(by: { $0.key < $1.key }) {
                    if let current = device.parameters[base + name], same(current, value) { continue }
                    guard let path = try? PathExpression(base + name) else { continue }
                    note(policy)
                    writes[policy, default: []].append(ParameterSetting(path: path, value: value))
                }
            } else if let table = try? PathExpression(object.table) {
                let settings = (object.key.merging(object.values) { _, value in value }).sorted { $0.key < $1.key }.compactMap { name, value in
                    (try? PathExpression(name)).map { ParameterSetting(path: $0, value: value) }
                }
                note(policy)
                others.append(PlannedOperation(policy: policy, operation: .add(object: table, parameters: settings)))
            }
        }
        if let (policy, target) = firmware, !device.softwareVersion.isEmpty, device.softwareVersion != target.version {
            note(policy)
            others.append(PlannedOperation(policy: policy, operation: .download(FileTransfer(
                kind: .firmware, url: target.url, username: target.username, password: target.password, fileSize: target.fileSize))))
        }

        var planned: [PlannedOperation] = []
        for policy in policyOrder {
            if let paths = reads[policy] { planned.append(PlannedOperation(policy: policy, operation: .get(paths: paths))) }
        }
        for policy in policyOrder {
            if let settings = writes[policy] {
                planned.append(PlannedOperation(policy: policy, operation: .set(values: settings, allowPartial: false, parameterKey: nil)))
            }
        }
        return planned + others
    }

    /// The instance paths (`Device.WiFi.SSID.2.`) the registry knows under `table`.
    static func instances(of table: String, in parameters: [String: TypedValue]) -> [String] {
        var seen = Set<String>()
        var result: [String] = []
        for path in parameters.keys where path.hasPrefix(table) {
            let rest = path.dropFirst(table.count)
            guard let dot = rest.firstIndex(of: "."), UInt32(rest[..<dot]) != nil else { continue }
            let base = table + rest[...dot]
            if seen.insert(base).inserted { result.append(base) }
        }
        return result.sorted { SoftwareVersion.compare($0, $1) < 0 }
    }

    /// Values compared as the device would: booleans by meaning, numbers by value, else by text.
    public static func same(_ current: TypedValue, _ desired: TypedValue) -> Bool {
        if current == desired { return true }
        switch (current, desired) {
        case (.boolean(let a), _): return BooleanText.parse(desired.lexical) == a
        case (_, .boolean(let b)): return BooleanText.parse(current.lexical) == b
        default:
            if let a = Int64(current.lexical), let b = Int64(desired.lexical) { return a == b }
            return current.lexical == desired.lexical
        }
    }
}
