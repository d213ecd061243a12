import ArgumentParser
import Foundation
import Logging
import NIOCore
import TandemServer

extension Tandem {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the server: CWMP front end, USP controller and REST API.")

        @OptionGroup var options: ConfigurationOptions

        @Option(help: ArgumentHelp("CWMP listener (overrides cwmp.listen).", valueName: "host:port"))
        var cwmpListen: String?

        @Option(help: ArgumentHelp("How CPEs authenticate: open, basic or digest (overrides cwmp.auth.mode).", valueName: "mode"))
        var cwmpAuth: String?

        @Option(help: ArgumentHelp("REST API listener (overrides api.listen).", valueName: "host:port"))
        var apiListen: String?

        @Option(name: .customLong("usp-ws-listen"), help: ArgumentHelp("USP WebSocket MTP listener (overrides usp.websocket.listen).", valueName: "host:port"))
        var uspWebSocketListen: String?

        @Option(help: ArgumentHelp("MQTT broker for the USP MQTT MTP (overrides usp.mqtt.broker).", valueName: "mqtt://host:port"))
        var mqttBroker: String?

        @Option(help: ArgumentHelp("MQTT topic the controller subscribes to (overrides usp.mqtt.topic).", valueName: "topic"))
        var mqttTopic: String?

        @Option(help: ArgumentHelp("STOMP broker for the USP STOMP MTP (overrides usp.stomp.broker).", valueName: "stomp://host:port"))
        var stompBroker: String?

        @Option(help: ArgumentHelp("STOMP destination the controller subscribes to (overrides usp.stomp.destination).", valueName: "dest"))
        var stompDestination: String?

        @Option(name: .customLong("usp-endpoint-id"), help: ArgumentHelp("The controller's USP endpoint ID (overrides usp.endpointId).", valueName: "id"))
        var uspEndpointID: String?

        @Option(help: ArgumentHelp("Log level (overrides log.level).", valueName: "level"))
        var logLevel: String?

        @Option(name: .customLong("tls-cert"), help: ArgumentHelp("PEM certificate chain: HTTPS/WSS on every HTTP listener (overrides tls.certificateFile).", valueName: "file"))
        var tlsCertificate: String?

        @Option(name: .customLong("tls-key"), help: ArgumentHelp("PEM private key of --tls-cert (overrides tls.privateKeyFile).", valueName: "file"))
        var tlsKey: String?

        @Option(name: .customLong("cwmp-client-ca"), help: ArgumentHelp("PEM CA that signs CPE client certificates (overrides cwmp.clientCertificates.caFile).", valueName: "file"))
        var cwmpClientCA: String?

        @Option(name: .customLong("mqtt-ca"), help: ArgumentHelp("PEM CA of the mqtts:// broker (overrides usp.mqtt.tls.caFile).", valueName: "file"))
        var mqttCA: String?

        @Option(name: .customLong("stomp-ca"), help: ArgumentHelp("PEM CA of the stomps:// broker (overrides usp.stomp.tls.caFile).", valueName: "file"))
        var stompCA: String?

        func run() async throws {
            let configuration = try options.load { configuration throws(ConfigurationError) in
                func flag<T>(_ name: String, _ value: String?, _ parse: (String) throws(ConfigurationError) -> T) throws(ConfigurationError) -> T? {
                    guard let value else { return nil }
                    do { return try parse(value) } catch { throw ConfigurationError(key: name, source: "command line", error.message) }
                }
                if let value = try flag("--cwmp-listen", cwmpListen, ListenAddress.init(parsing:)) { configuration.cwmp.listen = value }
                if let value = try flag("--api-listen", apiListen, ListenAddress.init(parsing:)) { configuration.api.listen = value }
                if let value = try flag("--usp-ws-listen", uspWebSocketListen, ListenAddress.init(parsing:)) { configuration.usp.webSocketListen = value }
                if let value = try flag("--mqtt-broker", mqttBroker, { text throws(ConfigurationError) in
                    try BrokerURL(parsing: text, schemes: ["mqtt": 1883, "mqtts": 8883])
                }) {
                    configuration.usp.mqttBroker = value
                }
                if let cwmpAuth {
                    guard let mode = CWMPAuthMode(rawValue: cwmpAuth) else {
                        throw ConfigurationError(key: "--cwmp-auth", source: "command line", "unknown mode \"\(cwmpAuth)\" (open, basic or digest)")
                    }
                    configuration.cwmp.authMode = mode
                }
                if let mqttTopic { configuration.usp.mqttTopic = mqttTopic }
                if let value = try flag("--stomp-broker", stompBroker, { text throws(ConfigurationError) in
                    try BrokerURL(parsing: text, schemes: ["stomp": 61613, "stomps": 61614])
                }) {
                    configuration.usp.stompBroker = value
                }
                if let stompDestination { configuration.usp.stompDestination = stompDestination }
                if let uspEndpointID { configuration.usp.endpointID = uspEndpointID }
                if let tlsCertificate { configuration.tls.certificateFile = tlsCertificate }
                if let tlsKey { configuration.tls.privateKeyFile = tlsKey }
                if let cwmpClientCA { configuration.cwmp.clientCertificates.caFile = cwmpClientCA }
                if let mqttCA { configuration.usp.mqttTLS.caFile = mqttCA }
                if let stompCA { configuration.usp.stompTLS.caFile = stompCA }
                if let logLevel {
                    guard let level = Logger.Level(rawValue: logLevel) else {
                        throw ConfigurationError(key: "--log-level", source: "command line", "unknown level \"\(logLevel)\"")
                    }
                    configuration.logLevel = level
                }
            }
            let level = configuration.logLevel
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
            let logger = Logger(label: "tandem")
            // Before anything starts NIO's shared event loops; the environment variable NIO reads
            // itself wins over the configuration.
            if ProcessInfo.processInfo.environment["NIO_SINGLETON_GROUP_LOOP_COUNT"] == nil {
                NIOSingletons.groupLoopCountSuggestion = configuration.effectiveEventLoopThreads(cores: System.coreCount)
            }
            // Thousands of CPE connections and agent sessions each hold a descriptor.
            let openFiles = OpenFileLimit.raiseToHardLimit()
            let server: TandemServer
            do {
                server = try TandemServer(configuration: configuration, logger: logger)
            } catch {
                printError("tandem: cannot open the registry under \(configuration.dataDirectory): \(error)")
                throw ExitCode.failure
            }
            logger.info("open-file limit", metadata: ["limit": "\(openFiles)", "cwmpMaxConnections": "\(server.cwmpConnectionLimit)"])
            try await server.run { name, address in
                // Unbuffered, so that scripts waiting for this line see it at once.
                FileHandle.standardOutput.write(Data("tandem: \(name) listening on \(address)\n".utf8))
            }
        }
    }
}
