import Foundation
import TandemCore

/// One step of turning a device's USP agent on over CWMP. Steps run in order, one task each;
/// `{name}` in a table or path is the object a previous `add` created (`Device.MQTT.Client.2.`),
/// `{ref:name}` in a value the same object as a TR-181 reference (`Device.MQTT.Client.2`).
public enum MigrationStep: Hashable, Sendable, Codable {
    /// Read parameters whose values a rollback must restore.
    case capture(paths: [String])
    /// AddObject on `table`, then its parameters; the new instance is remembered as `bind`.
    case add(table: String, parameters: [TemplateParameter], bind: String)
    case set(parameters: [TemplateParameter])

    public var summary: String {
        switch self {
        case .capture(let paths): "read \(paths.count) parameter(s) to restore on rollback"
        case .add(let table, _, _): "add \(table)"
        case .set(let parameters): "set " + parameters.map(\.path).joined(separator: ", ")
        }
    }
}

/// A parameter of a step: relative to the object for `add`, absolute for `set`.
public struct TemplateParameter: Hashable, Sendable, Codable {
    public var path: String
    public var value: TypedValue

    public init(_ path: String, _ value: TypedValue) {
        self.path = path
        self.value = value
    }
}

/// The steps that enable the agent of one device, and how to undo them.
public enum MigrationTemplate {
    /// The placeholders of a device, for vendor templates and topics.
    public static func placeholders(plan: MigrationPlan, device: DeviceFacts, endpointID: String) -> [String: String] {
        var values = [
            "endpointID": endpointID, "controllerEndpointID": plan.controllerEndpointID, "oui": device.oui,
            "productClass": device.productClass, "serialNumber": device.serialNumber,
        ]
        switch plan.target {
        case .mqtt(let host, let port, _, let agentTopic, let controllerTopic):
            values["host"] = host
            values["port"] = String(port)
            values["controllerTopic"] = controllerTopic
            values["agentTopic"] = substitute(agentTopic, values)
        case .webSocket(let host, let port, let path, _):
            values["host"] = host
            values["port"] = String(port)
            values["path"] = path
        case .stomp(let host, let port, let agentDestination, let controllerDestination):
            values["host"] = host
            values["port"] = String(port)
            values["controllerTopic"] = controllerDestination
            values["agentTopic"] = substitute(agentDestination, values)
        }
        return values
    }

    /// `{{name}}` replaced by its value; unknown names stay as they are.
    public static func substitute(_ text: String, _ values: [String: String]) -> String {
        guard text.contains("{{") else { return text }
        var out = text
        for (name, value) in values { out = out.replacingOccurrences(of: "{{\(name)}}", with: value) }
        return out
    }

    /// The steps for `device`: a matching vendor template, or the built-in TR-181 (Amendment 15+)
    /// `Device.USPAgent.` template (protocol digest D.1, D.2).
    public static func steps(plan: MigrationPlan, device: DeviceFacts, endpointID: String) -> (template: String, steps: [MigrationStep]) {
        let values = placeholders(plan: plan, device: device, endpointID: endpointID)
        if let vendor = plan.vendorTemplates.first(where: { $0.selector.matches(device) }) {
            let parameters = vendor.parameters.map { parameter in
                var value = parameter.value
                if case .string(let text) = value { value = .string(substitute(text, values)) }
                return TemplateParameter(parameter.path, value)
            }
            return (vendor.name, [.capture(paths: parameters.map(\.path)), .set(parameters: parameters)])
        }
        var steps: [MigrationStep] = []
        let controllerMTP: [TemplateParameter]
        switch plan.target {
        case .mqtt(let host, let port, let version, _, let controllerTopic):
            steps.append(.add(table: "Device.MQTT.Client.", parameters: [
                TemplateParameter("BrokerAddress", .string(host)),
                TemplateParameter("BrokerPort", .unsignedInt(UInt32(port))),
                TemplateParameter("ProtocolVersion", .string(version)),
                TemplateParameter("Enable", .boolean(true)),
            ], bind: "client"))
            steps.append(.add(table: "Device.USPAgent.MTP.", parameters: [
                TemplateParameter("Protocol", .string("MQTT")),
                TemplateParameter("MQTT.Reference", .string("{ref:client}")),
                TemplateParameter("MQTT.ResponseTopicConfigured", .string(values["agentTopic"] ?? "")),
                TemplateParameter("Enable", .boolean(true)),
            ], bind: "agentMTP"))
            controllerMTP = [
                TemplateParameter("Protocol", .string("MQTT")),
                TemplateParameter("MQTT.Reference", .string("{ref:client}")),
                TemplateParameter("MQTT.Topic", .string(controllerTopic)),
                TemplateParameter("Enable", .boolean(true)),
            ]
        case .webSocket(let host, let port, let path, let encrypted):
            controllerMTP = [
                TemplateParameter("Protocol", .string("WebSocket")),
                TemplateParameter("WebSocket.Host", .string(host)),
                TemplateParameter("WebSocket.Port", .unsignedInt(UInt32(port))),
                TemplateParameter("WebSocket.Path", .string(path)),
                TemplateParameter("WebSocket.EnableEncryption", .boolean(encrypted)),
                TemplateParameter("Enable", .boolean(true)),
            ]
        case .stomp(let host, let port, _, let controllerDestination):
            steps.append(.add(table: "Device.STOMP.Connection.", parameters: [
                TemplateParameter("Host", .string(host)),
                TemplateParameter("Port", .unsignedInt(UInt32(port))),
                TemplateParameter("Enable", .boolean(true)),
            ], bind: "connection"))
            steps.append(.add(table: "Device.USPAgent.MTP.", parameters: [
                TemplateParameter("Protocol", .string("STOMP")),
                TemplateParameter("STOMP.Reference", .string("{ref:connection}")),
                TemplateParameter("STOMP.Destination", .string(values["agentTopic"] ?? "")),
                TemplateParameter("Enable", .boolean(true)),
            ], bind: "agentMTP"))
            controllerMTP = [
                TemplateParameter("Protocol", .string("STOMP")),
                TemplateParameter("STOMP.Reference", .string("{ref:connection}")),
                TemplateParameter("STOMP.Destination", .string(controllerDestination)),
                TemplateParameter("Enable", .boolean(true)),
            ]
        }
        steps.append(.add(table: "Device.USPAgent.Controller.", parameters: [
            TemplateParameter("EndpointID", .string(plan.controllerEndpointID)),
            TemplateParameter("Enable", .boolean(true)),
        ], bind: "controller"))
        steps.append(.add(table: "{controller}MTP.", parameters: controllerMTP, bind: "controllerMTP"))
        // TR-181 2.15: setting SendOnBoardRequest makes the agent send an OnBoardRequest Notify.
        steps.append(.set(parameters: [TemplateParameter("{controller}SendOnBoardRequest", .boolean(true))]))
        return ("tr181-usp-agent", steps)
    }

    /// `{name}` and `{ref:name}` replaced by the objects created so far (`bindings`: name to path with
    /// its trailing dot). Throws when a step refers to an object not created.
    public static func resolve(_ text: String, bindings: [String: String]) throws(PolicyProblem) -> String {
        guard text.contains("{") else { return text }
        var out = ""
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            out += rest[..<open]
            guard let close = rest[open...].firstIndex(of: "}") else { out += rest[open...]; return out }
            let name = rest[rest.index(after: open)..<close]
            if name.hasPrefix("ref:") {
                guard let path = bindings[String(name.dropFirst(4))] else { throw PolicyProblem("no object was created as \(name.dropFirst(4))") }
                out += path.hasSuffix(".") ? String(path.dropLast()) : path
            } else if let path = bindings[String(name)] {
                out += path
            } else {
                // `{{...}}` placeholders and literal braces are not references.
                out += rest[open...close]
            }
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }

    /// The neutral operation of a step, with references resolved.
    public static func operation(for step: MigrationStep, bindings: [String: String]) throws(PolicyProblem) -> TandemCore.Operation {
        func path(_ text: String) throws(PolicyProblem) -> PathExpression {
            do { return try PathExpression(try resolve(text, bindings: bindings)) } catch let error as PathParseError {
                throw PolicyProblem("\(step.summary): \(text): \(error)")
            } catch let problem as PolicyProblem { throw problem } catch { throw PolicyProblem("\(error)") }
        }
        func settings(_ parameters: [TemplateParameter]) throws(PolicyProblem) -> [ParameterSetting] {
            var result: [ParameterSetting] = []
            for parameter in parameters {
                result.append(ParameterSetting(path: try path(parameter.path), value: try resolvedValue(parameter.value, bindings)))
            }
            return result
        }
        switch step {
        case .capture(let paths):
            var expressions: [PathExpression] = []
            for text in paths { expressions.append(try path(text)) }
            return .get(paths: expressions)
        case .add(let table, let parameters, _):
            return .add(object: try path(table), parameters: try settings(parameters))
        case .set(let parameters):
            return .set(values: try settings(parameters), allowPartial: false, parameterKey: nil)
        }
    }

    private static func resolvedValue(_ value: TypedValue, _ bindings: [String: String]) throws(PolicyProblem) -> TypedValue {
        if case .string(let text) = value { return .string(try resolve(text, bindings: bindings)) }
        return value
    }

    /// The operations that undo a migration's writes: restore captured values, then delete the
    /// created objects, newest first (a parent's delete takes its children with it).
    public static func rollback(created: [String], restore: [DesiredParameter]) -> [TandemCore.Operation] {
        var operations: [TandemCore.Operation] = []
        if !restore.isEmpty, let settings = try? restore.map({ ParameterSetting(path: try PathExpression($0.path), value: $0.value) }) {
            operations.append(.set(values: settings, allowPartial: false, parameterKey: nil))
        }
        for path in created.reversed() where !created.contains(where: { $0 != path && path.hasPrefix($0) }) {
            if let object = try? PathExpression(path) { operations.append(.delete(objects: [object])) }
        }
        return operations
    }
}
