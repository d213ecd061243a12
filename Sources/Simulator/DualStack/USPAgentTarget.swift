import MTPMQTT
import TandemCore
import USPAgentSimulator

/// Where a dual-stack device's USP agent connects, read from the objects an ACS writes over CWMP
/// to on-board it (TR-181 2.15+ `Device.USPAgent.`, `Device.MQTT.Client.`, `Device.STOMP.Connection.`;
/// protocol digest D.1, D.2). `find(in:)` returns nil until the configuration is complete and enabled.
public struct USPAgentTarget: Sendable, Hashable, CustomStringConvertible {
    public enum Transport: Sendable, Hashable {
        /// `version` is `Device.MQTT.Client.{i}.ProtocolVersion` (`5.0` or `3.1.1`).
        case mqtt(
            host: String, port: Int, version: String, clientID: String, username: String, password: String, controllerTopic: String,
            agentTopic: String)
        case webSocket(url: String)
        case stomp(host: String, port: Int, username: String, password: String, controllerDestination: String, agentDestination: String)
    }

    /// `Device.USPAgent.Controller.{k}.EndpointID`.
    public var controllerEndpointID: String
    /// `Device.USPAgent.Controller.{k}.` (CWMP name).
    public var controllerPath: String
    /// `Device.USPAgent.MTP.{m}.`, when the transport needs one (MQTT, STOMP).
    public var agentMTPPath: String?
    /// `Device.MQTT.Client.{c}.` or `Device.STOMP.Connection.{s}.`.
    public var connectionPath: String?
    public var transport: Transport

    /// Without secrets.
    public var description: String {
        switch transport {
        case .mqtt(let host, let port, let version, _, _, _, let controllerTopic, let agentTopic):
            "MQTT \(version) \(host):\(port) to \(controllerEndpointID) at \(controllerTopic), agent topic \(agentTopic)"
        case .webSocket(let url): "WebSocket \(url) to \(controllerEndpointID)"
        case .stomp(let host, let port, _, _, let controllerDestination, let agentDestination):
            "STOMP \(host):\(port) to \(controllerEndpointID) at \(controllerDestination), agent destination \(agentDestination)"
        }
    }

    /// How the simulated agent reaches the Controller.
    var agentMTP: AgentMTP {
        switch transport {
        case .mqtt(let host, let port, let version, let clientID, let username, let password, let controllerTopic, let agentTopic):
            .mqtt(
                host: host, port: port, controllerTopic: controllerTopic, agentTopic: agentTopic, version: version == "5.0" ? .v5 : .v311,
                username: username.isEmpty ? nil : username, password: username.isEmpty ? nil : password, clientID: clientID.isEmpty ? nil : clientID)
        case .webSocket(let url):
            .webSocket(url: url)
        case .stomp(let host, let port, let username, let password, let controllerDestination, let agentDestination):
            .stomp(
                host: host, port: port, controllerDestination: controllerDestination, agentDestination: agentDestination,
                login: username.isEmpty ? nil : username, passcode: username.isEmpty ? nil : password)
        }
    }

    /// The first enabled Controller with an enabled MTP whose configuration is complete, in
    /// instance order; nil when there is none (the agent stays off).
    static func find(in model: DataModel) -> USPAgentTarget? {
        let reader = Reader(model: model)
        let agent = "Device.USPAgent."
        for k in model.instances(of: agent + "Controller.") ?? [] {
            let controller = "\(agent)Controller.\(k)."
            let endpointID = reader.string(controller + "EndpointID")
            guard reader.enabled(controller), !endpointID.isEmpty else { continue }
            for n in model.instances(of: controller + "MTP.") ?? [] {
                let mtp = "\(controller)MTP.\(n)."
                guard reader.enabled(mtp) else { continue }
                let found: (transport: Transport, agentMTP: String?, connection: String?)?
                switch reader.string(mtp + "Protocol") {
                case "MQTT": found = reader.mqtt(controllerMTP: mtp)
                case "WebSocket": found = reader.webSocket(controllerMTP: mtp)
                case "STOMP": found = reader.stomp(controllerMTP: mtp)
                default: found = nil
                }
                if let found {
                    return USPAgentTarget(
                        controllerEndpointID: endpointID, controllerPath: controller, agentMTPPath: found.agentMTP, connectionPath: found.connection,
                        transport: found.transport)
                }
            }
        }
        return nil
    }

    private struct Reader {
        let model: DataModel

        func string(_ path: String) -> String { model.value(path)?.lexical ?? "" }
        func enabled(_ object: String) -> Bool { model.value(object + "Enable") == .boolean(true) }
        func port(_ path: String) -> Int? {
            if case .unsignedInt(let port) = model.value(path), (1...65535).contains(port) { Int(port) } else { nil }
        }

        /// The enabled object a reference parameter names inside `table` (`Device.MQTT.Client.1`,
        /// with or without the trailing dot).
        func referenced(_ parameter: String, in table: String) -> String? {
            var reference = string(parameter)
            guard !reference.isEmpty else { return nil }
            if !reference.hasSuffix(".") { reference += "." }
            guard reference.hasPrefix(table), model.isObject(reference), enabled(reference) else { return nil }
            return reference
        }

        /// The first enabled `Device.USPAgent.MTP.{m}.` of `protocol` for which `complete` holds.
        func agentMTP(_ protocolName: String, _ complete: (String) -> Bool) -> String? {
            for m in model.instances(of: "Device.USPAgent.MTP.") ?? [] {
                let path = "Device.USPAgent.MTP.\(m)."
                if enabled(path), string(path + "Protocol") == protocolName, complete(path) { return path }
            }
            return nil
        }

        func mqtt(controllerMTP mtp: String) -> (Transport, String?, String?)? {
            let controllerTopic = string(mtp + "MQTT.Topic")
            guard !controllerTopic.isEmpty else { return nil }
            var client: String?
            let agentPath = agentMTP("MQTT") { path in
                client = referenced(path + "MQTT.Reference", in: "Device.MQTT.Client.")
                return client != nil && !string(path + "MQTT.ResponseTopicConfigured").isEmpty
            }
            guard let agentPath, let client else { return nil }
            let host = string(client + "BrokerAddress"), version = string(client + "ProtocolVersion")
            // This agent speaks MQTT 5.0 and 3.1.1 (R-MQTT.1/2), over TCP.
            guard !host.isEmpty, let brokerPort = port(client + "BrokerPort"), version == "5.0" || version == "3.1.1",
                string(client + "TransportProtocol") == "TCP/IP"
            else { return nil }
            return (
                .mqtt(
                    host: host, port: brokerPort, version: version, clientID: string(client + "ClientID"), username: string(client + "Username"),
                    password: string(client + "Password"), controllerTopic: controllerTopic, agentTopic: string(agentPath + "MQTT.ResponseTopicConfigured")),
                agentPath, client
            )
        }

        func webSocket(controllerMTP mtp: String) -> (Transport, String?, String?)? {
            let host = string(mtp + "WebSocket.Host")
            guard !host.isEmpty, let webSocketPort = port(mtp + "WebSocket.Port") else { return nil }
            var path = string(mtp + "WebSocket.Path")
            if !path.hasPrefix("/") { path = "/" + path }
            let scheme = model.value(mtp + "WebSocket.EnableEncryption") == .boolean(true) ? "wss" : "ws"
            let authority = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
            return (.webSocket(url: "\(scheme)://\(authority):\(webSocketPort)\(path)"), nil, nil)
        }

        func stomp(controllerMTP mtp: String) -> (Transport, String?, String?)? {
            let controllerDestination = string(mtp + "STOMP.Destination")
            guard !controllerDestination.isEmpty, let connection = referenced(mtp + "STOMP.Reference", in: "Device.STOMP.Connection."),
                let agentPath = agentMTP("STOMP", { !string($0 + "STOMP.Destination").isEmpty }),
                !string(connection + "Host").isEmpty, let serverPort = port(connection + "Port")
            else { return nil }
            return (
                .stomp(
                    host: string(connection + "Host"), port: serverPort, username: string(connection + "Username"), password: string(connection + "Password"),
                    controllerDestination: controllerDestination, agentDestination: string(agentPath + "STOMP.Destination")),
                agentPath, connection
            )
        }
    }
}
