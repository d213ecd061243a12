import Engine
import Foundation
import Hummingbird
import Logging
import Registry

/// Routes of the API listener that need no token: liveness and metrics for monitoring systems.
struct APIRoutes: Sendable {
    let registry: any RegistryStore
    let metrics: ServerMetrics
    let cwmpSessions: CWMPSessionManager
    let logger: Logger

    let operations: DeviceOperations
    let linkStates: MTPLinkStates
    /// Failed authentications per address, shared by every `/api/v1` route.
    let throttle: AuthenticationThrottle
    let provisioning: ProvisioningEngine

    func register(on router: Router<RemoteAddressContext>) {
        router.get("/healthz") { _, _ in try await health() }
        router.get("/metrics") { _, _ in try await prometheus() }
        let authenticator = APIAuthenticator(registry: registry)
        DeviceRoutes(registry: registry, operations: operations, authenticator: authenticator, logger: logger, throttle: throttle)
            .register(on: router)
        ProvisioningRoutes(registry: registry, engine: provisioning, authenticator: authenticator, throttle: throttle).register(on: router)
        router.group("api/v1").add(middleware: AuthenticationThrottleMiddleware(throttle: throttle)).get("status") { request, _ in
            _ = try await authenticator.authorize(request, minimum: .readOnly)
            return try await status()
        }
    }

    /// `GET /api/v1/status`: what `tandem status` prints: version, registry, CWMP sessions, MTP links.
    func status() async throws -> Response {
        struct Status: Encodable {
            var version: String
            var registry: String
            var devices: Int
            var cwmpSessions: Int
            var mtps: [MTPLinkStates.Link]
        }
        var registryState = "ok"
        var devices = 0
        do { devices = try await registry.countDevices(matching: DeviceFilter()) } catch { registryState = "\(error)" }
        return try jsonResponse(Status(
            version: TandemServer.version, registry: registryState, devices: devices, cwmpSessions: await cwmpSessions.sessionCount,
            mtps: linkStates.snapshot))
    }

    /// `{"status": "ok", "version": "...", "registry": "ok"}`; 503 with the reason when the registry
    /// cannot be read.
    func health() async throws -> Response {
        var body: [String: String] = ["version": TandemServer.version]
        let status: HTTPResponse.Status
        do {
            _ = try await registry.countDevices(matching: DeviceFilter())
            body["status"] = "ok"
            body["registry"] = "ok"
            status = .ok
        } catch {
            logger.error("health check: registry unavailable", metadata: ["error": "\(error)"])
            body["status"] = "unavailable"
            body["registry"] = "\(error)"
            status = .serviceUnavailable
        }
        return try jsonResponse(body, status: status)
    }

    /// Prometheus text exposition format 0.0.4.
    func prometheus() async throws -> Response {
        let statistics = try await registry.statistics()
        let text = metrics.render(statistics: statistics, process: ProcessFigures.current(), cwmpSessions: await cwmpSessions.sessionCount)
            + Array(linkStates.prometheusText().utf8)
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: text)))
    }
}

/// A JSON response with sorted keys.
func jsonResponse<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    var headers = HTTPFields()
    headers[.contentType] = "application/json; charset=utf-8"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
}
