import Engine
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Policy
import Registry
import TandemCore

/// `/api/v1/policies` and `/api/v1/migrations`: the policy document in force, dry-run plans,
/// applying a document, migration progress and control.
struct ProvisioningRoutes: Sendable {
    let registry: any RegistryStore
    let engine: ProvisioningEngine
    let authenticator: APIAuthenticator
    let throttle: AuthenticationThrottle

    /// A policy file sent to the API: its name (for error positions) and its text.
    struct DocumentBody: Decodable {
        var fileName: String?
        var text: String
    }

    func register(on router: Router<RemoteAddressContext>) {
        let group = router.group("api/v1").add(middleware: AuthenticationThrottleMiddleware(throttle: throttle))
        group.get("policies") { request, _ in
            _ = try await authenticator.authorize(request, minimum: .readOnly)
            struct Current: Encodable {
                var document: StoredPolicyDocument?
                var policies: [String]
                var migrations: [String]
                /// Devices per policy and state.
                var status: [String: [String: Int]]
            }
            let document = await engine.document
            let counts = try await registry.policyStatusCounts().mapValues { states in
                Dictionary(uniqueKeysWithValues: states.map { ($0.key.rawValue, $0.value) })
            }
            return try jsonResponse(Current(
                document: try await registry.currentPolicyDocument(), policies: document.policies.map(\.name),
                migrations: document.migrations.map(\.name), status: counts))
        }
        group.put("policies") { request, _ in
            let token = try await authenticator.authorize(request, minimum: .admin)
            let body = try await DeviceRoutes.decode(DocumentBody.self, from: request)
            do {
                let report = try await engine.apply(text: body.text, fileName: body.fileName ?? "policy", actor: "token:\(token.name)")
                return try jsonResponse(report)
            } catch let error as PolicyValidationError {
                return try Self.invalid(error)
            }
        }
        group.post("policies/plan") { request, _ in
            _ = try await authenticator.authorize(request, minimum: .readOnly)
            let body = try await DeviceRoutes.decode(DocumentBody.self, from: request)
            do {
                let document = try PolicyLoader.load(body.text, file: body.fileName ?? "policy")
                return try jsonResponse(try await engine.plan(document))
            } catch let error as PolicyValidationError {
                return try Self.invalid(error)
            }
        }
        group.get("devices/:device/policies") { request, context in
            _ = try await authenticator.authorize(request, minimum: .readOnly)
            let device = try await DeviceRoutes.device(context, registry: registry)
            struct DevicePolicies: Encodable {
                var policies: [PolicyStatus]
                var migrations: [MigrationDeviceRecord]
            }
            return try jsonResponse(DevicePolicies(
                policies: try await registry.policyStatuses(deviceID: device.id),
                migrations: try await registry.migrationDevices(deviceID: device.id)))
        }
        group.get("migrations") { request, _ in
            _ = try await authenticator.authorize(request, minimum: .readOnly)
            return try jsonResponse(["migrations": try await engine.migrations.report()])
        }
        for command in [MigrationCoordinator.Command.pause, .resume, .rollback] {
            group.post("migrations/:migration/\(command.rawValue)") { request, context in
                let token = try await authenticator.authorize(request, minimum: command == .rollback ? .admin : .operator_)
                let name = context.parameters.get("migration") ?? ""
                do {
                    try await engine.migrations.command(command, migration: name, actor: "token:\(token.name)", now: Date())
                } catch let fault as Fault {
                    throw APIError(.notFound, fault.message)
                }
                let report = try await engine.migrations.report().first { $0.name == name }
                return try jsonResponse(report)
            }
        }
    }

    /// 422 with every error and its position.
    static func invalid(_ error: PolicyValidationError) throws -> Response {
        struct Body: Encodable {
            struct Item: Encodable {
                var file: String
                var line: Int
                var column: Int
                var message: String
            }
            var error: [String: AnyEncodable]
            var errors: [Item]
        }
        return try jsonResponse(
            Body(
                error: ["status": AnyEncodable(422), "message": AnyEncodable(error.errors.first.map(\.description) ?? "invalid policy")],
                errors: error.errors.map { Body.Item(file: $0.file, line: $0.line, column: $0.column, message: $0.message) }),
            status: .unprocessableContent)
    }
}
