import Engine
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Registry
import TandemCore

/// `/api/v1`: devices, parameters, tasks, events. Every route needs a bearer token and checks its
/// role first (`APIAuthenticator.authorize`); `Schemas/openapi.json` documents the role of each
/// (`x-tandem-role`), and `AccessTests` walks the router's routes against it.
struct DeviceRoutes: Sendable {
    let registry: any RegistryStore
    let operations: DeviceOperations
    let authenticator: APIAuthenticator
    let logger: Logger
    let throttle: AuthenticationThrottle

    func register(on router: Router<RemoteAddressContext>) {
        // Failed authentications are rate-limited per remote address (AuthenticationThrottle).
        let group = router.group("api/v1").add(middleware: AuthenticationThrottleMiddleware(throttle: throttle))
        group.get("devices") { request, _ in try await listDevices(request) }
        group.get("devices/:device") { request, context in
            _ = try await authenticator.authorize(request, minimum: .readOnly)
            return try jsonResponse(DeviceSummary(try await device(context)))
        }
        group.put("devices/:device/tags") { request, context in try await updateTags(request, context) }
        group.get("devices/:device/parameters") { request, context in
            _ = try await authenticator.authorize(request, minimum: .readOnly)
            let device = try await device(context)
            let prefix = request.uri.queryParameters.get("prefix") ?? ""
            let parameters = try await registry.parameters(deviceID: device.id, under: prefix)
            return try jsonResponse(["parameters": parameters.map(ParameterSummary.init)])
        }
        group.get("devices/:device/tasks") { request, context in
            _ = try await authenticator.authorize(request, minimum: .readOnly)
            let device = try await device(context)
            var states: Set<TaskState> = []
            if let filter = request.uri.queryParameters.get("state") {
                for name in filter.split(separator: ",") {
                    guard let state = TaskState(rawValue: String(name)) else { throw APIError(.badRequest, "unknown task state \(name)") }
                    states.insert(state)
                }
            }
            return try jsonResponse(["tasks": try await registry.tasks(deviceID: device.id, states: states).map(TaskSummary.init)])
        }
        group.post("devices/:device/tasks") { request, context in try await createTask(request, context) }
        group.get("devices/:device/events") { request, context in
            _ = try await authenticator.authorize(request, minimum: .readOnly)
            let device = try await device(context)
            let limit = try Self.integer(request, "limit", default: 100, in: 1...10_000)
            return try jsonResponse(["events": try await registry.events(deviceID: device.id, limit: limit).map(EventSummary.init)])
        }
        group.put("devices/:device/credentials") { request, context in try await setCredentials(request, context) }
        group.get("tasks/:task") { request, context in
            _ = try await authenticator.authorize(request, minimum: .readOnly)
            return try jsonResponse(TaskSummary(try await task(context)))
        }
        group.delete("tasks/:task") { request, context in
            let token = try await authenticator.authorize(request, minimum: .operator_)
            let task = try await task(context)
            guard try await registry.cancelTask(id: task.id, actor: "token:\(token.name)", at: Date()) else {
                throw APIError(.conflict, "task \(task.id) has already finished (\(task.state.rawValue))")
            }
            return try jsonResponse(TaskSummary(try await self.task(id: task.id)))
        }
        group.post("tasks/:task/retry") { request, context in
            let token = try await authenticator.authorize(request, minimum: .operator_)
            let task = try await task(context)
            guard task.state.isFinal else { throw APIError(.conflict, "task \(task.id) is still \(task.state.rawValue)") }
            guard let device = try await registry.device(.registryID(task.deviceID)) else { throw APIError(.notFound, "device gone") }
            let submission = try await operations.submit(task.operation, to: device, actor: "token:\(token.name)")
            return try jsonResponse(TaskSummary(submission.task), status: .created)
        }
        group.get("events") { request, _ in
            _ = try await authenticator.authorize(request, minimum: .readOnly)
            let limit = try Self.integer(request, "limit", default: 100, in: 1...10_000)
            return try jsonResponse(["events": try await registry.events(deviceID: nil, limit: limit).map(EventSummary.init)])
        }
    }

    // MARK: Handlers

    func listDevices(_ request: Request) async throws -> Response {
        _ = try await authenticator.authorize(request, minimum: .readOnly)
        let query = request.uri.queryParameters
        var filter = DeviceFilter()
        filter.manufacturer = query.get("manufacturer")
        filter.productClass = query.get("productClass")
        filter.oui = query.get("oui")
        filter.softwareVersion = query.get("softwareVersion")
        filter.tag = query.get("tag")
        filter.text = query.get("text")
        if let value = query.get("protocol") {
            guard let proto = ManagementProtocol(rawValue: value) else { throw APIError(.badRequest, "protocol is cwmp or usp") }
            filter.protocolSpoken = proto
        }
        if let value = query.get("active") {
            guard let proto = ManagementProtocol(rawValue: value) else { throw APIError(.badRequest, "active is cwmp or usp") }
            filter.activeProtocol = proto
        }
        let limit = try Self.integer(request, "limit", default: 100, in: 1...1000)
        let after = query.get("after").map { Int64($0) } ?? nil
        if query.get("after") != nil && after == nil { throw APIError(.badRequest, "after must be a device id") }
        let devices = try await registry.devices(matching: filter, page: Page(limit: limit, after: after))
        let total = try await registry.countDevices(matching: filter)
        struct Body: Encodable {
            var devices: [DeviceSummary]
            var total: Int
            var next: Int64?
        }
        return try jsonResponse(Body(devices: devices.map(DeviceSummary.init), total: total, next: devices.count == limit ? devices.last?.id : nil))
    }

    func updateTags(_ request: Request, _ context: RemoteAddressContext) async throws -> Response {
        let token = try await authenticator.authorize(request, minimum: .operator_)
        let device = try await device(context)
        struct Body: Decodable {
            var add: [String]?
            var remove: [String]?
        }
        let body = try await Self.decode(Body.self, from: request)
        do {
            let tags = try await registry.updateTags(deviceID: device.id, adding: body.add ?? [], removing: body.remove ?? [], actor: "token:\(token.name)")
            return try jsonResponse(["tags": tags])
        } catch let error as RegistryError {
            throw APIError(.badRequest, error.description)
        }
    }

    func createTask(_ request: Request, _ context: RemoteAddressContext) async throws -> Response {
        let token = try await authenticator.authorize(request, minimum: .operator_)
        let device = try await device(context)
        struct Body: Decodable {
            var operation: TandemCore.Operation
            /// Seconds the task may wait for the device (default 7 days).
            var expiresInSeconds: Double?
            /// Seconds to wait for the result before answering (0: answer at once).
            var wait: Double?
        }
        let body = try await Self.decode(Body.self, from: request)
        let submission: DeviceOperations.Submission
        do {
            submission = try await operations.submit(
                body.operation, to: device, expiresAt: body.expiresInSeconds.map { Date().addingTimeInterval($0) }, actor: "token:\(token.name)")
        } catch let fault as Fault {
            throw APIError(.badRequest, fault.message)
        }
        var task = submission.task
        if let wait = body.wait, wait > 0 {
            task = try await operations.wait(forTask: task.id, timeout: .milliseconds(Int64(min(wait, 600) * 1000)), justSubmitted: true)
        }
        var summary = TaskSummary(task)
        summary.connectionRequest = submission.connectionRequest?.description
        return try jsonResponse(summary, status: task.state.isFinal ? .ok : .accepted)
    }

    func setCredentials(_ request: Request, _ context: RemoteAddressContext) async throws -> Response {
        let token = try await authenticator.authorize(request, minimum: .admin)
        let device = try await device(context)
        struct Body: Decodable {
            var purpose: String
            var username: String
            var password: String
        }
        let body = try await Self.decode(Body.self, from: request)
        guard let purpose = CredentialPurpose(rawValue: body.purpose) else {
            throw APIError(.badRequest, "purpose is cpe or connectionRequest")
        }
        do {
            try await registry.setCredentials(deviceID: device.id, purpose: purpose, username: body.username, password: body.password, actor: "token:\(token.name)")
        } catch {
            throw APIError(.conflict, "cannot store the credentials: the username may belong to another device")
        }
        return Response(status: .noContent)
    }

    // MARK: Helpers

    func device(_ context: RemoteAddressContext) async throws -> Device {
        try await Self.device(context, registry: registry)
    }

    /// The device the `{device}` path parameter names: registry id, CWMP DeviceId or endpoint ID.
    static func device(_ context: RemoteAddressContext, registry: any RegistryStore) async throws -> Device {
        let text = context.parameters.get("device")?.removingPercentEncoding ?? ""
        let identifier: DeviceIdentifier
        do { identifier = try DeviceIdentifier(parsing: text) } catch { throw APIError(.badRequest, error.message) }
        guard let device = try await registry.device(identifier) else { throw APIError(.notFound, "no device \(text)") }
        return device
    }

    func task(_ context: RemoteAddressContext) async throws -> DeviceTask {
        guard let text = context.parameters.get("task"), let id = Int64(text) else { throw APIError(.badRequest, "task ids are numbers") }
        return try await task(id: id)
    }

    func task(id: Int64) async throws -> DeviceTask {
        guard let task = try await registry.task(id: id) else { throw APIError(.notFound, "no task \(id)") }
        return task
    }

    static func integer(_ request: Request, _ name: String, default value: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text = request.uri.queryParameters.get(name) else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw APIError(.badRequest, "\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    static func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        let buffer = try await request.body.collect(upTo: 1024 * 1024)
        do {
            return try JSONDecoder().decode(type, from: Data(buffer.readableBytesView))
        } catch let error as DecodingError {
            throw APIError(.badRequest, "invalid JSON body: \(Self.describe(error))")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .dataCorrupted(let context), .keyNotFound(_, let context), .typeMismatch(_, let context), .valueNotFound(_, let context):
            let path = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            var message = context.debugDescription
            if case .keyNotFound(let key, _) = error { message = "missing \(key.stringValue)" }
            return path.isEmpty ? message : "\(path): \(message)"
        @unknown default:
            return "\(error)"
        }
    }
}

/// JSON shape of a parameter.
struct ParameterSummary: Encodable {
    var path: String
    var type: String?
    var value: String?
    var writable: Bool?
    var updatedAt: Date

    init(_ parameter: StoredParameter) {
        path = parameter.path
        type = parameter.value?.type.rawValue
        value = parameter.value?.lexical
        writable = parameter.writable
        updatedAt = parameter.updatedAt
    }
}

/// JSON shape of a task.
struct TaskSummary: Encodable {
    var id: Int64
    var deviceId: Int64
    var operation: TandemCore.Operation
    var state: String
    var attempts: Int
    var result: OperationResult?
    var fault: Fault?
    var createdAt: Date
    var updatedAt: Date
    var expiresAt: Date?
    /// The Connection Request sent to wake a CWMP device; always present (null otherwise), so that
    /// tasks have one JSON shape whatever the protocol.
    var connectionRequest: String?

    private enum CodingKeys: String, CodingKey {
        case id, deviceId, operation, state, attempts, result, fault, createdAt, updatedAt, expiresAt, connectionRequest
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(deviceId, forKey: .deviceId)
        try c.encode(operation, forKey: .operation)
        try c.encode(state, forKey: .state)
        try c.encode(attempts, forKey: .attempts)
        try c.encode(result, forKey: .result)
        try c.encode(fault, forKey: .fault)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(updatedAt, forKey: .updatedAt)
        try c.encode(expiresAt, forKey: .expiresAt)
        try c.encode(connectionRequest, forKey: .connectionRequest)
    }

    init(_ task: DeviceTask) {
        id = task.id
        deviceId = task.deviceID
        operation = task.operation
        state = task.state.rawValue
        attempts = task.attempts
        result = task.result
        fault = task.fault
        createdAt = task.createdAt
        updatedAt = task.updatedAt
        expiresAt = task.expiresAt
    }
}

/// JSON shape of an event.
struct EventSummary: Encodable {
    var id: Int64
    var deviceId: Int64?
    var at: Date
    var kind: String
    var summary: String
    var actor: String
    var detail: [String: String]

    init(_ event: DeviceEvent) {
        id = event.id
        deviceId = event.deviceID
        at = event.at
        kind = event.kind
        summary = event.summary
        actor = event.actor
        detail = event.detail
    }
}
