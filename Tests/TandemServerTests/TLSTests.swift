import AsyncHTTPClient
import Engine
import Foundation
import HTTPAuthentication
import HTTPTypes
import Logging
import MTP
import MTPMQTT
import MTPWebSocket
import NIOCore
import NIOHTTP1
import NIOSSL
import NIOWebSocket
import Registry
import ServiceLifecycle
import TandemCore
import TandemServer
import Testing
import USPAgentSimulator

/// TLS on every front end with certificates made at test time: HTTPS for the REST API and CWMP (with
/// optional CPE certificates), WSS for the USP WebSocket server and as a client, MQTT over TLS with a
/// client certificate, and the `--tls-cert`/`--tls-key` flags of the real binary.
@Suite(.serialized) struct TLSTests {
    static let inform = try! String(contentsOf: repositoryRoot.appendingPathComponent("Fixtures/cwmp/cpe-inform-boot.xml"), encoding: .utf8)

    func configuration(_ directory: String, _ certificates: TestCertificates) -> TandemConfiguration {
        var configuration = TandemConfiguration()
        configuration.dataDirectory = directory
        configuration.api.listen = ListenAddress(host: "127.0.0.1", port: 0)
        configuration.cwmp.listen = ListenAddress(host: "127.0.0.1", port: 0)
        configuration.cwmp.authMode = .open
        configuration.usp.endpointID = "self::tandem-tls"
        configuration.usp.webSocketListen = ListenAddress(host: "127.0.0.1", port: 0)
        configuration.tls = ServerTLS(certificateFile: certificates.serverCertificate, privateKeyFile: certificates.serverKey)
        return configuration
    }

    /// Runs the whole server; `body` gets the API, CWMP and WebSocket ports.
    func withServer(_ server: TandemServer, _ body: (Int, Int, Int) async throws -> Void) async throws {
        let (ports, continuation) = AsyncStream.makeStream(of: (String, Int).self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await server.run { name, address in
                    continuation.yield((name, Int(address.split(separator: ":").last ?? "") ?? 0))
                }
            }
            defer { group.cancelAll() }
            var bound: [String: Int] = [:]
            for await (name, port) in ports {
                bound[name] = port
                if bound["api"] != nil && bound["cwmp"] != nil { break }
            }
            let ws = try await server.webSocketTransport!.listeningPort()
            try await body(try #require(bound["api"]), try #require(bound["cwmp"]), ws)
        }
    }

    @Test func everyHTTPListenerSpeaksOnlyTLSAndCPECertificatesAreChecked() async throws {
        let certificates = try TestCertificates.make()
        defer { remove(certificates.directory) }
        let directory = temporaryDirectory()
        defer { remove(directory) }
        var configuration = configuration(directory, certificates)
        configuration.cwmp.clientCertificates = ClientCertificates(caFile: certificates.caFile, required: false)
        let server = try TandemServer(configuration: configuration, logger: Logger(label: "tls"))
        try await withServer(server) { api, cwmp, ws in
            let trusting = try certificates.clientTLS()
            let untrusting = TLSConfiguration.makeClientConfiguration()
            let withCertificate = try certificates.clientTLS(certificate: certificates.clientCertificate, key: certificates.clientKey)
            let withRogueCertificate = try certificates.clientTLS(certificate: certificates.rogueClientCertificate, key: certificates.rogueClientKey)

            // REST API: HTTPS with the server certificate (verified against the test CA, name 127.0.0.1).
            let health = try await fetch("https://127.0.0.1:\(api)/healthz", tls: trusting)
            #expect(health.status == 200 && health.body.contains(#""status":"ok""#))
            // The admin CLI reaches an HTTPS API signed by a private CA when given it (--ca-file or
            // TANDEM_CA_FILE); with only the system's CAs it refuses the certificate.
            let secret = BearerToken.makeSecret()
            let stored = try await server.registry.createToken(name: "tls-cli", role: .readOnly, secretHash: BearerToken.hash(secret), actor: "test")
            let remote = ["--server", "https://127.0.0.1:\(api)", "--token", BearerToken(id: stored.id, secret: secret).text, "--json"]
            let withCA = try await runTandemAsync(["status"] + remote + ["--ca-file", certificates.caFile])
            #expect(withCA.status == 0, "\(withCA.stderr)")
            #expect(withCA.stdout.contains(#""cwmpSessions""#))
            let withoutCA = try await runTandemAsync(["status"] + remote)
            #expect(withoutCA.status != 0)
            #expect(withoutCA.stderr.contains("cannot reach"))
            let missingCA = try await runTandemAsync(["status"] + remote + ["--ca-file", certificates.directory + "/absent.pem"])
            #expect(missingCA.status != 0 && missingCA.stderr.contains("cannot read the CA file"))
            // Clients that do not trust the CA, and plain HTTP, get nothing.
            await #expect(throws: (any Error).self) { try await fetch("https://127.0.0.1:\(api)/healthz", tls: untrusting) }
            await #expect(throws: (any Error).self) { try await fetch("http://127.0.0.1:\(api)/healthz") }
            await #expect(throws: (any Error).self) { try await fetch("http://127.0.0.1:\(cwmp)/", method: "POST", body: Self.inform) }

            // CWMP over HTTPS: a CPE without a certificate (optional) and one with a CA-signed one get
            // their InformResponse; a CPE with a certificate from another CA is refused in the handshake.
            for client in [trusting, withCertificate] {
                let answer = try await fetch(
                    "https://127.0.0.1:\(cwmp)/cwmp", method: "POST", body: Self.inform, headers: [("Content-Type", "text/xml")], tls: client)
                #expect(answer.status == 200)
                #expect(answer.body.contains("InformResponse"))
            }
            await #expect(throws: (any Error).self) {
                try await fetch("https://127.0.0.1:\(cwmp)/cwmp", method: "POST", body: Self.inform, tls: withRogueCertificate)
            }

            // WSS: the controller's own dialer, trusting the test CA, opens a USP session to the
            // WebSocket server; a dialer trusting only the system roots never does.
            let trusted = try await Self.dial("wss://127.0.0.1:\(ws)/usp", tls: ClientTLS(caFile: certificates.caFile), within: .seconds(10))
            #expect(trusted)
            let untrusted = try await Self.dial("wss://127.0.0.1:\(ws)/usp", tls: ClientTLS(), within: .seconds(2))
            #expect(!untrusted)
            #expect(try await server.registry.countDevices(matching: DeviceFilter()) == 1)
        }
    }

    @Test func clientCertificatesCanBeRequired() async throws {
        let certificates = try TestCertificates.make()
        defer { remove(certificates.directory) }
        let directory = temporaryDirectory()
        defer { remove(directory) }
        var configuration = configuration(directory, certificates)
        configuration.cwmp.clientCertificates = ClientCertificates(caFile: certificates.caFile, required: true)
        let server = try TandemServer(configuration: configuration, logger: Logger(label: "tls"))
        try await withServer(server) { api, cwmp, _ in
            let anonymous = try certificates.clientTLS()
            let withCertificate = try certificates.clientTLS(certificate: certificates.clientCertificate, key: certificates.clientKey)
            await #expect(throws: (any Error).self) { try await fetch("https://127.0.0.1:\(cwmp)/cwmp", method: "POST", body: Self.inform, tls: anonymous) }
            let answer = try await fetch("https://127.0.0.1:\(cwmp)/cwmp", method: "POST", body: Self.inform, tls: withCertificate)
            #expect(answer.status == 200 && answer.body.contains("InformResponse"))
            // The API listener does not ask for client certificates.
            #expect(try await fetch("https://127.0.0.1:\(api)/healthz", tls: anonymous).status == 200)
        }
    }

    /// Whether a WebSocket MTP dialer with `tls` establishes a session to `url` within `timeout`.
    static func dial(_ url: String, tls: ClientTLS, within timeout: Duration) async throws -> Bool {
        var configuration = WebSocketTransportConfiguration(controllerEndpointID: "proto::tls-dialer", listener: nil)
        configuration.dialing.tlsConfiguration = try tls.makeClientConfiguration()
        configuration.dialing.initialRetryInterval = .milliseconds(200)
        var logger = Logger(label: "tls-dialer")
        logger.logLevel = .critical
        let transport = WebSocketTransport(configuration: configuration, logger: logger)
        return try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask { try await transport.run(); return false }
            group.addTask {
                for await event in transport.events {
                    if case .peerConnected = event { return true }
                }
                return false
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return false
            }
            try await transport.connect(url: url, agentEndpointID: "self::tandem-tls")
            let first = try await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    @Test func mqttOverTLSWithAClientCertificate() async throws {
        guard mosquittoAvailable() else { return }
        let certificates = try TestCertificates.make()
        defer { remove(certificates.directory) }
        let broker = try TLSMosquitto(certificates: certificates)
        defer { broker.stop() }
        let directory = temporaryDirectory()
        defer { remove(directory) }
        var configuration = TandemConfiguration()
        configuration.dataDirectory = directory
        configuration.usp.endpointID = "self::tandem-mqtts"
        configuration.usp.webSocketListen = nil
        configuration.usp.mqttBroker = try BrokerURL(parsing: "mqtts://127.0.0.1:\(broker.tlsPort)", schemes: ["mqtts": 8883])
        configuration.usp.mqttTopic = "usp/controller/mqtts"
        configuration.usp.mqttTLS = ClientTLS(caFile: certificates.caFile, certificateFile: certificates.clientCertificate, privateKeyFile: certificates.clientKey)
        let server = try TandemServer(configuration: configuration, logger: Logger(label: "mqtts"))
        // The agent uses the broker's plain listener; only the controller's side is TLS, and the
        // broker refuses TLS clients without a certificate from the test CA.
        let agent = SimulatedAgent(
            identity: .init(oui: "00D09E", serialNumber: "MQTTS1"), controllerEndpointID: "self::tandem-mqtts",
            mtp: .mqtt(host: "127.0.0.1", port: broker.plainPort, controllerTopic: "usp/controller/mqtts", agentTopic: "usp/agent/mqtts", version: .v5))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for service in server.uspServices { group.addTask { try await service.run() } }
            try await Task.sleep(for: .milliseconds(500))
            group.addTask { try await agent.run() }
            defer { group.cancelAll() }
            #expect(try await USPControllerLiveTests.eventually(.seconds(60)) { await agent.subscriptionIDs().count == 2 }, "broker log: \(broker.log)")
            let device = try #require(try await server.registry.device(try DeviceIdentifier(parsing: "os::00D09E-MQTTS1")))
            #expect(device.connection["mtp"] == "mqtt")
        }
    }

    @Test func serveFlagsTurnTLSOnForEveryListener() async throws {
        let certificates = try TestCertificates.make()
        defer { remove(certificates.directory) }
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let server = try ServerProcess([
            "--data-dir", directory, "--api-listen", "127.0.0.1:0", "--cwmp-listen", "127.0.0.1:0", "--usp-ws-listen", "127.0.0.1:0",
            "--cwmp-auth", "open", "--tls-cert", certificates.serverCertificate, "--tls-key", certificates.serverKey,
        ])
        defer { server.stop() }
        let client = try certificates.clientTLS()
        #expect(try await fetch("https://127.0.0.1:\(server.ports["api"]!)/healthz", tls: client).status == 200)
        let answer = try await fetch("https://127.0.0.1:\(server.ports["cwmp"]!)/", method: "POST", body: Self.inform, tls: client)
        #expect(answer.status == 200 && answer.body.contains("InformResponse"))

        // A key without its certificate, and an unreadable certificate, are configuration errors (exit 2).
        let keyOnly = try runTandem(["serve", "--data-dir", directory, "--tls-key", certificates.serverKey])
        #expect(keyOnly.status == 2)
        #expect(keyOnly.stderr.contains("tls: certificateFile and privateKeyFile go together"))
        let missing = try runTandem(["serve", "--data-dir", directory, "--tls-cert", "/nonexistent.pem", "--tls-key", certificates.serverKey])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("tls.certificateFile: /nonexistent.pem"))
    }
}

@Suite struct TLSConfigurationTests {
    @Test func readsTheTLSKeysAndChecksTheFiles() throws {
        let certificates = try TestCertificates.make()
        defer { remove(certificates.directory) }
        let json = """
            {"tls": {"certificateFile": "\(certificates.serverCertificate)", "privateKeyFile": "\(certificates.serverKey)"},
             "cwmp": {"clientCertificates": {"caFile": "\(certificates.caFile)", "required": true}},
             "usp": {"mqtt": {"broker": "mqtts://b", "tls": {"caFile": "\(certificates.caFile)", "certificateFile": "\(certificates.clientCertificate)", "privateKeyFile": "\(certificates.clientKey)"}},
                     "stomp": {"tls": {"caFile": "\(certificates.caFile)"}},
                     "websocket": {"dialTLS": {"caFile": "\(certificates.caFile)"}}}}
            """
        let c = try TandemConfiguration.load(json: Data(json.utf8), source: "test")
        #expect(c.tls == ServerTLS(certificateFile: certificates.serverCertificate, privateKeyFile: certificates.serverKey))
        #expect(c.cwmp.clientCertificates == ClientCertificates(caFile: certificates.caFile, required: true))
        #expect(c.usp.mqttTLS.certificateFile == certificates.clientCertificate)
        #expect(c.usp.stompTLS.caFile == certificates.caFile)
        #expect(c.usp.webSocketDialTLS.caFile == certificates.caFile)
        #expect(try c.serverTLSConfiguration() != nil)
        #expect(try c.cwmpTLSConfiguration()?.certificateVerification == .noHostnameVerification)
    }

    @Test(arguments: [
        (#"{"tls": {"certificateFile": "/x.pem"}}"#, "test: tls: certificateFile and privateKeyFile go together"),
        (#"{"tls": {"certificateFile": "/nope.pem", "privateKeyFile": "/nope.key"}}"#, "test: tls.certificateFile: /nope.pem: not a readable PEM certificate"),
        (#"{"cwmp": {"clientCertificates": {"caFile": "/ca.pem"}}}"#, "test: cwmp.clientCertificates: client certificates need TLS"),
        (#"{"usp": {"mqtt": {"tls": {"certificateFile": "/c.pem"}}}}"#, "test: usp.mqtt.tls: certificateFile and privateKeyFile go together"),
        (#"{"usp": {"stomp": {"tls": {"caFile": "/missing-ca.pem"}}}}"#, "test: usp.stomp.tls: cannot read the CA"),
        (#"{"tls": {"certificate": "/x.pem"}}"#, "test: tls.certificate: unknown key (did you mean tls.certificateFile?)"),
        (#"{"cwmp": {"clientCertificates": {"required": "yes"}}}"#, "test: cwmp.clientCertificates.required: must be true or false"),
    ])
    func badTLSSettingsNameTheKey(json: String, message: String) {
        #expect {
            _ = try TandemConfiguration.load(json: Data(json.utf8), source: "test")
        } throws: { error in
            "\(error)".hasPrefix(message)
        }
    }

    @Test func aKeyThatDoesNotMatchItsCertificateIsRefused() throws {
        let certificates = try TestCertificates.make()
        defer { remove(certificates.directory) }
        var configuration = TandemConfiguration()
        configuration.tls = ServerTLS(certificateFile: certificates.serverCertificate, privateKeyFile: certificates.clientKey)
        #expect(throws: ConfigurationError.self) { try configuration.validate() }
    }
}
