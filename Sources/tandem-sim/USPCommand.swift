import ArgumentParser
import Foundation
import Logging
import MTPMQTT
import USPAgentSimulator

/// `tandem-sim usp`: N simulated TR-369 agents over WebSocket, MQTT or STOMP.
struct USPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usp",
        abstract: "Simulate USP agents (endpoint IDs os::OUI-Serial) over WebSocket, MQTT or STOMP.")

    @OptionGroup var common: CommonOptions

    @Option(help: ArgumentHelp("websocket, mqtt or stomp.", valueName: "mtp"))
    var mtp: String = "websocket"

    @Option(help: ArgumentHelp("WebSocket: the controller's URL, e.g. ws://127.0.0.1:8081/usp.", valueName: "url"))
    var url: String?

    @Option(help: ArgumentHelp("MQTT or STOMP broker as host:port.", valueName: "host:port"))
    var broker: String?

    @Option(help: "MQTT: the controller's topic; STOMP: the controller's destination.")
    var controllerAddress: String = "usp/controller/tandem"

    @Option(help: "MQTT 5 or 3.1.1 (values: 5, 3.1.1).")
    var mqttVersion: String = "5"

    @Option(help: "The controller's endpoint ID.")
    var controllerId: String = "self::tandem-controller"

    @Option(help: "Number of agents.")
    var count: Int = 1

    @Option(help: ArgumentHelp("Manufacturer OUI, six hexadecimal digits.", valueName: "hex"))
    var oui: String = "00D09E"

    @Option(help: "ProductClass of every agent.")
    var productClass: String = "SimGateway"

    @Option(help: "Serial numbers are this prefix followed by a six-digit index.")
    var serialPrefix: String = "USPSIM"

    @Option(help: "Index of the first agent.")
    var firstIndex: Int = 1

    @Option(help: "Software version at the factory.")
    var softwareVersion: String = "1.0.0"

    func validate() throws {
        guard (1...100_000).contains(count) else { throw ValidationError("--count must be 1 to 100000") }
        switch mtp {
        case "websocket": guard url != nil else { throw ValidationError("--mtp websocket needs --url ws://HOST:PORT/usp") }
        case "mqtt", "stomp": guard broker?.contains(":") == true else { throw ValidationError("--mtp \(mtp) needs --broker HOST:PORT") }
        default: throw ValidationError("--mtp must be websocket, mqtt or stomp")
        }
        guard mqttVersion == "5" || mqttVersion == "3.1.1" else { throw ValidationError("--mqtt-version must be 5 or 3.1.1") }
    }

    func run() async throws {
        let logger = common.bootstrapLogging()
        var host = ""
        var port = 0
        if let broker, let colon = broker.lastIndex(of: ":") {
            host = String(broker[..<colon])
            port = Int(broker[broker.index(after: colon)...]) ?? 0
        }
        let agents = (0..<count).map { offset -> SimulatedAgent in
            let serial = serialPrefix + String(format: "%06d", firstIndex + offset)
            let transport: AgentMTP
            switch mtp {
            case "mqtt":
                transport = .mqtt(
                    host: host, port: port, controllerTopic: controllerAddress, agentTopic: "usp/agent/\(serial)",
                    version: mqttVersion == "5" ? .v5 : .v311)
            case "stomp":
                transport = .stomp(host: host, port: port, controllerDestination: controllerAddress, agentDestination: "/queue/usp.agent.\(serial)")
            default:
                transport = .webSocket(url: url!)
            }
            return SimulatedAgent(
                identity: .init(oui: oui, productClass: productClass, serialNumber: serial, softwareVersion: softwareVersion),
                controllerEndpointID: controllerId, mtp: transport, logger: logger)
        }
        printLine("tandem-sim: \(count) USP agent(s) over \(mtp), first \(agents.first!.identity.endpointID)")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for agent in agents {
                group.addTask {
                    do { try await agent.run() } catch { logger.warning("agent stopped", metadata: ["agent": "\(agent.identity.endpointID)", "error": "\(error)"]) }
                }
            }
            try await group.waitForAll()
        }
    }
}
