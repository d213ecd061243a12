import CWMP
import Engine
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import MTP
import MTPMQTT
import MTPSTOMP
import MTPWebSocket
import NIOCore
import NIOSSL
import Registry
import TandemCore
import ServiceLifecycle
import UnixSignals

/// The composition root: builds every front end and service from a configuration and runs them in
/// one `ServiceGroup`. `tandem serve` and the live tests share it.
public struct TandemServer: Sendable {
    public static let version = "0.1.0"

    public let configuration: TandemConfiguration
    public let registry: any RegistryStore
    public let logger: Logger
    /// The CWMP sessions of every CPE.
    public let cwmpSessions: CWMPSessionManager
    /// Submitting operations to devices (queue, wake, wait).
    public let operations: DeviceOperations
    /// The USP controller.
    public let uspController: USPController
    /// Provisioning policies and fleet migrations.
    public let provisioning: ProvisioningEngine
    /// The USP WebSocket MTP (listener and dialer), when `usp.websocket.listen` is set.
    public let webSocketTransport: WebSocketTransport?
    /// Every USP MTP the server runs.
    public let transports: [any MessageTransport]
    /// The link state of every MTP (`/metrics`, `GET /api/v1/status`).
    public let linkStates: MTPLinkStates
    let metrics: ServerMetrics
    /// How the REST API and CWMP listeners serve HTTP: plain, or HTTPS when `tls` is configured.
    let apiServerBuilder: HTTPServerBuilder
    /// The CWMP listener's TLS, when `tls` (or `cwmp.clientCertificates`) configures it.
    let cwmpTLS: TLSConfiguration?

    /// Opens the registry under the configured data directory.
    public init(configuration: TandemConfiguration, logger: Logger) throws {
        try configuration.validate()
        let store = try SQLiteRegistryStore(dataDirectory: configuration.dataDirectory)
        try self.init(configuration: configuration, registry: store, logger: logger)
    }

    /// Uses an already opened registry (tests, or another backend). Throws when the TLS files of
    /// the configuration cannot be loaded.
    public init(configuration: TandemConfiguration, registry: any RegistryStore, logger: Logger) throws {
        self.configuration = configuration
        let serverTLS = try configuration.serverTLSConfiguration()
        self.apiServerBuilder = try serverTLS.map { try HTTPServerBuilder.tls(.http1(), tlsConfiguration: $0) } ?? .http1()
        self.cwmpTLS = try configuration.cwmpTLSConfiguration()
        self.registry = registry
        self.logger = logger
        self.metrics = ServerMetrics()
        var sessionConfiguration = CWMPSessionManager.Configuration()
        sessionConfiguration.session.sessionTimeout = .seconds(configuration.cwmp.sessionTimeoutSeconds)
        sessionConfiguration.maxConcurrentSessions = configuration.cwmp.maxConcurrentSessions
        sessionConfiguration.retryAfterSeconds = configuration.cwmp.retryAfterSeconds
        sessionConfiguration.adaptiveRetryAfter = configuration.cwmp.adaptiveRetryAfter
        sessionConfiguration.decoder.maximumMessageBytes = configuration.cwmp.maxBodyBytes
        sessionConfiguration.planner = CWMPPlanner(getBatchSize: configuration.cwmp.getBatchSize)
        sessionConfiguration.omitXMLDeclarationFor = Set(configuration.cwmp.omitXMLDeclarationFor)
        let observers = DeviceContactObservers()
        self.cwmpSessions = CWMPSessionManager(configuration: sessionConfiguration, registry: registry, observers: observers, logger: logger)
        var transports: [any MessageTransport] = []
        if let listen = configuration.usp.webSocketListen {
            var webSocketConfiguration = WebSocketTransportConfiguration(
                controllerEndpointID: configuration.usp.endpointID,
                listener: .init(host: listen.host, port: listen.port, path: configuration.usp.webSocketPath, tlsConfiguration: serverTLS))
            webSocketConfiguration.dialing.tlsConfiguration = try configuration.clientTLSConfiguration(
                configuration.usp.webSocketDialTLS, key: "usp.websocket.dialTLS")
            let transport = WebSocketTransport(configuration: webSocketConfiguration, logger: logger)
            transports.append(transport)
            webSocketTransport = transport
        } else {
            webSocketTransport = nil
        }
        if let broker = configuration.usp.mqttBroker {
            var mqtt = MQTTTransport.Configuration(
                host: broker.host, port: broker.port, endpointID: configuration.usp.endpointID, topic: configuration.usp.mqttTopic)
            if let initial = configuration.usp.brokerRetryInitialSeconds {
                mqtt.backoff.initial = .milliseconds(Int64(initial * 1000))
            }
            if let maximum = configuration.usp.brokerRetryMaximumSeconds {
                mqtt.backoff.maximum = .milliseconds(Int64(maximum * 1000))
            }
            if broker.usesTLS {
                let files = configuration.usp.mqttTLS
                var tls = MQTTTLSConfiguration(caFile: files.caFile, certificateFile: files.certificateFile, privateKeyFile: files.privateKeyFile)
                tls.useSystemTrustStore = files.caFile == nil
                mqtt.tls = tls
            }
            do {
                transports.append(try MQTTTransport(configuration: mqtt, logger: logger))
            } catch {
                logger.error("MQTT MTP disabled: invalid configuration", metadata: ["error": "\(error)"])
            }
        }
        if let broker = configuration.usp.stompBroker {
            var stomp = STOMPTransport.Configuration(
                host: broker.host, port: broker.port, endpointID: configuration.usp.endpointID, destination: configuration.usp.stompDestination)
            if let initial = configuration.usp.brokerRetryInitialSeconds {
                stomp.backoff.initialInterval = .milliseconds(Int64(initial * 1000))
            }
            if let maximum = configuration.usp.brokerRetryMaximumSeconds {
                stomp.backoff.maximumInterval = .milliseconds(Int64(maximum * 1000))
            }
            if broker.usesTLS {
                let files = configuration.usp.stompTLS
                var tls = STOMPTransport.Configuration.TLS(trustRoots: files.caFile.map { .pemFile($0) } ?? .system)
                tls.certificateChainFile = files.certificateFile
                tls.privateKeyFile = files.privateKeyFile
                stomp.tls = tls
            }
            do {
                transports.append(try STOMPTransport(configuration: stomp, logger: logger))
            } catch {
                logger.error("STOMP MTP disabled: invalid configuration", metadata: ["error": "\(error)"])
            }
        }
        let linkStates = MTPLinkStates()
        self.linkStates = linkStates
        self.transports = transports.map { LinkTrackingTransport($0, states: linkStates) }
        // validate() checked the endpoint ID.
        let endpoint = (try? EndpointID(configuration.usp.endpointID)) ?? (try! EndpointID("self::tandem-controller"))
        var controllerConfiguration = USPController.Configuration(endpointID: endpoint)
        controllerConfiguration.baselinePaths = configuration.usp.baselinePaths
        controllerConfiguration.valueChangePaths = configuration.usp.valueChangePaths
        controllerConfiguration.requestTimeout = .seconds(configuration.usp.requestTimeoutSeconds)
        self.uspController = USPController(
            configuration: controllerConfiguration, registry: registry, transports: self.transports, observers: observers, logger: logger)
        var operations = DeviceOperations(
            registry: registry, cwmpSessions: cwmpSessions, connectionRequests: ConnectionRequestClient(), logger: logger)
        operations.usp = uspController
        if let username = configuration.cwmp.connectionRequestUsernameTemplate, let password = configuration.cwmp.connectionRequestPasswordTemplate {
            let (user, secret) = (CredentialTemplate(username), CredentialTemplate(password))
            operations.connectionRequestFallback = { device in
                guard device.cwmpDeviceID != nil,
                    let identity = try? CWMPDeviceID(oui: device.oui, productClass: device.productClass, serialNumber: device.serialNumber)
                else { return nil }
                return ConnectionRequestCredentials(username: user.render(identity), password: secret.render(identity))
            }
        }
        self.operations = operations
        var migrationConfiguration = MigrationCoordinator.Configuration()
        migrationConfiguration.tickInterval = .milliseconds(Int64(configuration.provisioning.migrationTickSeconds * 1000))
        var engineConfiguration = ProvisioningEngine.Configuration()
        engineConfiguration.maxRoundsPerContact = configuration.provisioning.maxRoundsPerContact
        engineConfiguration.retryBase = TimeInterval(configuration.provisioning.retrySeconds)
        self.provisioning = ProvisioningEngine(
            configuration: engineConfiguration, registry: registry, operations: operations,
            migrations: MigrationCoordinator(configuration: migrationConfiguration, registry: registry, operations: operations, logger: logger),
            logger: logger)
        observers.set(provisioning)
    }

    /// Loads the policy in force (applying `policyFile` when it differs), then runs migration ticks
    /// until graceful shutdown.
    public var provisioningService: any Service {
        ProvisioningService(engine: provisioning, policyFile: configuration.policyFile, logger: logger)
    }

    /// The long-lived USP services: the MTP transports, then the controller that consumes them.
    public var uspServices: [any Service] {
        transports.map { $0 as any Service } + [uspController]
    }

    /// Every route the API router serves, as (method, path with `{parameter}` captures), read from
    /// the router itself: the route-walking access test and the OpenAPI check enumerate it, so a
    /// route added to the router cannot escape them.
    package var apiRouterRoutes: [(method: String, path: String)] {
        makeAPIRouter().routes.map { ($0.method.rawValue, $0.path.description) }
    }

    /// The REST API's router: `/healthz`, `/metrics` and every `/api/v1` route.
    func makeAPIRouter() -> Router<RemoteAddressContext> {
        let router = Router(context: RemoteAddressContext.self)
        APIRoutes(
            registry: registry, metrics: metrics, cwmpSessions: cwmpSessions, logger: logger, operations: operations, linkStates: linkStates,
            throttle: AuthenticationThrottle(settings: .init(maxFailures: configuration.api.maxFailedAuthenticationsPerMinute)),
            provisioning: provisioning
        ).register(on: router)
        return router
    }

    /// The REST API listener: `/healthz`, `/metrics` and `/api/v1`.
    public func makeAPIApplication(
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: makeAPIRouter(),
            server: apiServerBuilder,
            configuration: .init(
                address: .hostname(configuration.api.listen.host, port: configuration.api.listen.port),
                serverName: "tandem/\(Self.version)"),
            onServerRunning: onServerRunning,
            logger: logger)
    }

    /// The CWMP listener, where CPEs POST (TR-069 3.4).
    /// Open CPE connections at most (`cwmp.maxConnections`, or half the open-file limit).
    public var cwmpConnectionLimit: Int {
        configuration.cwmp.maxConnections > 0 ? configuration.cwmp.maxConnections : OpenFileLimit.automaticCWMPConnections()
    }

    public func makeCWMPApplication(
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let frontEnd = CWMPFrontEnd(
            sessions: cwmpSessions, authenticator: CPEAuthenticator(configuration: configuration.cwmp, registry: registry), logger: logger,
            throttle: AuthenticationThrottle(settings: .init(maxFailures: configuration.cwmp.maxFailedAuthenticationsPerMinute)))
        let child = CWMPChildChannel(frontEnd: frontEnd, maxBodyBytes: configuration.cwmp.maxBodyBytes, serverName: "tandem/\(Self.version)")
        let tls = cwmpTLS
        // Hummingbird's server accepts and runs the connections; its router and responder are not
        // used here: the child channel answers every request itself.
        let server = HTTPServerBuilder { _ in
            if let tls { return try TLSChannel(child, tlsConfiguration: tls) }
            return child
        }
        return Application(
            router: Router(context: BasicRequestContext.self),
            server: server,
            configuration: .init(
                address: .hostname(configuration.cwmp.listen.host, port: configuration.cwmp.listen.port),
                serverName: "tandem/\(Self.version)",
                backlog: configuration.cwmp.backlog,
                availableConnectionsDelegate: .maximum(cwmpConnectionLimit, logger: logger)),
            services: [CWMPSessionSweeper(sessions: cwmpSessions)],
            onServerRunning: onServerRunning,
            logger: logger)
    }

    /// Runs every listener until SIGINT or SIGTERM, then shuts down gracefully: listeners stop
    /// accepting, requests in flight finish, the registry closes.
    ///
    /// - Parameter onListening: called with each listener's name and bound address once it accepts
    ///   connections (the address carries the real port when the configuration said 0).
    public func run(onListening: @escaping @Sendable (String, String) async -> Void = { _, _ in }) async throws {
        let api = makeAPIApplication { channel in
            await onListening("api", Self.describe(channel.localAddress))
        }
        let cwmp = makeCWMPApplication { channel in
            await onListening("cwmp", Self.describe(channel.localAddress))
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: api), .init(service: cwmp)]
        services += uspServices.map { .init(service: $0) }
        services.append(.init(service: provisioningService))
        if configuration.memoryTrimSeconds > 0 {
            services.append(.init(service: HeapTrimService(interval: .seconds(configuration.memoryTrimSeconds), logger: logger)))
        }
        if let webSocketTransport, let listen = configuration.usp.webSocketListen {
            // Reports the WebSocket MTP's bound port like the other listeners', then ends.
            services.append(.init(
                service: OneShotService {
                    let port = try await webSocketTransport.listeningPort()
                    await onListening("usp-websocket", ListenAddress(host: listen.host, port: port).description)
                },
                successTerminationBehavior: .ignore))
        }
        let group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        logger.info("tandem starting", metadata: [
            "api.listen": "\(configuration.api.listen)", "cwmp.listen": "\(configuration.cwmp.listen)",
            "data.directory": "\(configuration.dataDirectory)", "tls": "\(configuration.tls.isEnabled ? "on" : "off")",
        ])
        try await group.run()
        logger.info("tandem stopped")
    }

    static func describe(_ address: SocketAddress?) -> String {
        WebSocketTransport.describe(address)
    }
}

/// Puts the policy in force at start and runs the migration coordinator.
struct ProvisioningService: Service {
    let engine: ProvisioningEngine
    let policyFile: String?
    let logger: Logger

    func run() async throws {
        try await engine.load()
        if let policyFile {
            let text: String
            do { text = try String(contentsOfFile: policyFile, encoding: .utf8) } catch {
                logger.error("cannot read policyFile", metadata: ["file": "\(policyFile)", "error": "\(error)"])
                throw error
            }
            if try await engine.storedText() != text {
                let report = try await engine.apply(text: text, fileName: policyFile, actor: "config")
                logger.info("policy file applied", metadata: ["file": "\(policyFile)", "policies": "\(report.policies)", "migrations": "\(report.migrations)"])
            }
        }
        await cancelWhenGracefulShutdown {
            await engine.migrations.run()
        }
    }
}

/// Runs `body` once, for work that belongs to the service group's lifetime.
struct OneShotService: Service {
    let body: @Sendable () async throws -> Void
    func run() async throws { try await body() }
}

/// Closes CWMP sessions whose CPE fell silent, once a second, requeueing what they held.
struct CWMPSessionSweeper: Service {
    let sessions: CWMPSessionManager

    func run() async throws {
        // Graceful shutdown cancels the sleep; the loop then ends without an error.
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { try await Task.sleep(for: .seconds(1)) } catch { return }
                await sessions.expireIdleSessions()
            }
        }
    }
}
