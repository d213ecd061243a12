import Foundation
import Hummingbird
import Logging
import NIOCore
import Registry
import ServiceLifecycle
import UnixSignals

/// The composition root: builds every front end and service from a configuration and runs them in
/// one `ServiceGroup`. `tandem serve` and the live tests share it.
public struct TandemServer: Sendable {
    public static let version = "0.1.0"

    public let configuration: TandemConfiguration
    public let registry: any RegistryStore
    public let logger: Logger
    let metrics: ServerMetrics

    /// Opens the registry under the configured data directory.
    public init(configuration: TandemConfiguration, logger: Logger) throws {
        try configuration.validate()
        let store = try SQLiteRegistryStore(dataDirectory: configuration.dataDirectory)
        self.init(configuration: configuration, registry: store, logger: logger)
    }

    /// Uses an already opened registry (tests, or another backend).
    public init(configuration: TandemConfiguration, registry: any RegistryStore, logger: Logger) {
        self.configuration = configuration
        self.registry = registry
        self.logger = logger
        self.metrics = ServerMetrics()
    }

    /// The REST API listener: `/healthz`, `/metrics` and, from the operations issue on, `/api/v1`.
    public func makeAPIApplication(
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        APIRoutes(registry: registry, metrics: metrics, logger: logger).register(on: router)
        return Application(
            router: router,
            configuration: .init(
                address: .hostname(configuration.api.listen.host, port: configuration.api.listen.port),
                serverName: "tandem/\(Self.version)"),
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
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: api)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        logger.info("tandem starting", metadata: [
            "api.listen": "\(configuration.api.listen)", "data.directory": "\(configuration.dataDirectory)",
        ])
        try await group.run()
        logger.info("tandem stopped")
    }

    static func describe(_ address: SocketAddress?) -> String {
        guard let address else { return "?" }
        let host = address.ipAddress ?? "?"
        let port = address.port.map(String.init) ?? "?"
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
