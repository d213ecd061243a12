import AsyncHTTPClient
import Engine
import Foundation
import HTTPAuthentication
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MTPMQTT
import MTPWebSocket
import NIOCore
import NIOHTTP1
import NIOWebSocket
import Registry
import ServiceLifecycle
import Simulator
import TandemCore
import TandemServer
import Testing

/// Access control: every route for every role, rate-limited failures, secrets kept out of logs, an
/// audit event naming the token for every operator action.
@Suite struct AccessTests {
    @Test func everyRouteForEveryRoleIsAllowedOrForbiddenByItsRole() async throws {
        let fixture = try await APITests().makeFixture()
        defer { remove(fixture.directory) }
        let device = try await fixture.server.registry.recordCWMPContact(try CWMPDeviceID(oui: "00D09E", serialNumber: "R1"), details: DeviceDetails(), at: Date())
        let order: [APIRole] = [.readOnly, .operator_, .admin]
        try await fixture.server.makeAPIApplication().test(.live) { client in
            for route in TandemServer.apiRoutes {
                let needed = try #require(APIRole(rawValue: route.role))
                for role in APIRole.allCases {
                    // A fresh task each time, so that cancel and retry find one in a state they accept.
                    let task = try await fixture.server.registry.enqueueTask(deviceID: device.id, operation: .factoryReset, expiresAt: nil, actor: "t")
                    let uri = route.path.replacingOccurrences(of: "{device}", with: "\(device.id)").replacingOccurrences(of: "{task}", with: "\(task.id)")
                        .replacingOccurrences(of: "{migration}", with: "m")
                    let response = try await client.execute(
                        uri: uri, method: HTTPRequest.Method(route.method)!, headers: APITests.auth(fixture.tokens[role]), body: ByteBuffer(string: "{}"))
                    let allowed = order.firstIndex(of: role)! >= order.firstIndex(of: needed)!
                    if allowed {
                        #expect(response.status != .forbidden && response.status != .unauthorized, "\(route.method) \(route.path) as \(role.rawValue): \(response.status)")
                    } else {
                        #expect(response.status == .forbidden, "\(route.method) \(route.path) as \(role.rawValue): \(response.status)")
                    }
                }
            }
        }
    }

    @Test func failedAPIAuthenticationsAreRateLimitedPerAddress() async throws {
        let fixture = try await APITests().makeFixture(throttled: true)
        defer { remove(fixture.directory) }
        try await fixture.server.makeAPIApplication().test(.live) { client in
            for attempt in 1...10 {
                let response = try await client.execute(uri: "/api/v1/devices", method: .get, headers: APITests.auth("tdm_1_WRONG\(attempt)AAAAAAAAAAAAAAAAAAAAAAAA"))
                #expect(response.status == .unauthorized)
            }
            // The eleventh try, and even a valid token from the same address, wait.
            for token in ["tdm_1_WRONGAGAINAAAAAAAAAAAAAAAAAAAAA", fixture.tokens[.admin]!] {
                let limited = try await client.execute(uri: "/api/v1/devices", method: .get, headers: APITests.auth(token))
                #expect(limited.status == .tooManyRequests)
                let retry = try #require(limited.headers[.retryAfter].flatMap { Int($0) })
                #expect((1...60).contains(retry))
                let error = try APITests.json(limited)["error"] as? [String: Any]
                #expect(error?["status"] as? Int == 429)
                #expect((error?["message"] as? String)?.contains("too many failed authentications") == true)
            }
            // Monitoring is not behind the throttle.
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
        }
    }

    @Test func failedCPEAuthenticationsAreRateLimitedButTheDigestChallengeIsNot() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        var configuration = TandemConfiguration()
        configuration.dataDirectory = directory
        configuration.cwmp.listen = ListenAddress(host: "127.0.0.1", port: 0)
        configuration.cwmp.authMode = .basic
        configuration.cwmp.passwordTemplate = "pw-{serialNumber}"
        let server = try TandemServer(configuration: configuration, logger: Logger(label: "throttle"))
        let inform = try Data(contentsOf: repositoryRoot.appendingPathComponent("Fixtures/cwmp/cpe-inform-boot.xml"))
        try await server.makeCWMPApplication().test(.live) { client in
            // Requests without credentials (the start of every exchange) never count.
            for _ in 0..<150 {
                #expect(try await client.execute(uri: "/", method: .post, body: ByteBuffer(bytes: inform)).status == .unauthorized)
            }
            var headers = HTTPFields()
            headers[.authorization] = "Basic " + Data("someone:wrong".utf8).base64EncodedString()
            for _ in 0..<100 {
                #expect(try await client.execute(uri: "/", method: .post, headers: headers, body: ByteBuffer(bytes: inform)).status == .unauthorized)
            }
            let limited = try await client.execute(uri: "/", method: .post, headers: headers, body: ByteBuffer(bytes: inform))
            #expect(limited.status == .tooManyRequests)
            #expect(limited.headers[.retryAfter] != nil)
        }
    }

    @Test func credentialsNeverReachTheLogs() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let sink = LogSink()
        var logger = Logger(label: "capture") { label in CapturingLogHandler(label: label, sink: sink) }
        logger.logLevel = .trace
        var configuration = TandemConfiguration()
        configuration.dataDirectory = directory
        configuration.cwmp.listen = ListenAddress(host: "127.0.0.1", port: 0)
        configuration.cwmp.authMode = .digest
        configuration.cwmp.passwordTemplate = "cpe-secret-{serialNumber}"
        configuration.usp.webSocketListen = nil
        let server = try TandemServer(configuration: configuration, logger: logger)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.makeCWMPApplication { continuation.yield($0.localAddress?.port ?? 0) }.runService() }
            defer { group.cancelAll() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let fleet = try SimulatedFleet(configuration: SimulatedFleet.Configuration(
                count: 1, serialPrefix: "SECRET", acsURL: "http://127.0.0.1:\(port)/", usernameTemplate: "{deviceId}",
                passwordTemplate: "cpe-secret-{serial}", connectionRequestUsernameTemplate: "cr-user",
                connectionRequestPasswordTemplate: "cr-secret-{serial}", periodicInformEnable: false,
                device: .init(retryMinimumWait: .milliseconds(100), retryMaximumWait: .seconds(1), httpTimeout: .seconds(10))))
            group.addTask { try await fleet.run() }
            #expect(try await USPControllerLiveTests.eventually(.seconds(30)) { try await server.registry.countDevices(matching: DeviceFilter()) == 1 })
            let device = try #require(try await server.registry.devices(matching: DeviceFilter(), page: Page()).first)
            try await server.registry.setCredentials(
                deviceID: device.id, purpose: .connectionRequest, username: "cr-user", password: "cr-secret-\(device.serialNumber)", actor: "test")
            // A task makes the ACS send a connection request with the stored credentials, then a session
            // (once the boot session is over: work queued during a session runs in it).
            #expect(try await USPControllerLiveTests.eventually(.seconds(30)) { !(await server.cwmpSessions.hasSession(deviceID: device.id)) })
            let fresh = try #require(try await server.registry.device(.registryID(device.id)))
            let submission = try await server.operations.submit(.get(paths: [try PathExpression("Device.DeviceInfo.SerialNumber")]), to: fresh, actor: "test")
            #expect(submission.connectionRequest?.isAccepted ?? false)
            #expect(try await server.operations.wait(forTask: submission.task.id, timeout: .seconds(20)).state == .done)
            let serial = device.serialNumber
            let text = sink.text
            #expect(!text.isEmpty)
            #expect(!text.contains("cpe-secret-\(serial)"), "the CPE password appears in the log")
            #expect(!text.contains("cr-secret-\(serial)"), "the connection-request password appears in the log")
            // Nor in the event log.
            let events = try await server.registry.events(deviceID: nil, limit: 500).map { "\($0.summary) \($0.actor)" }.joined(separator: "\n")
            #expect(!events.contains("secret-\(serial)"))
        }
    }

    @Test func everyOperatorActionLeavesAnAuditEventNamingTheToken() async throws {
        let fixture = try await APITests().makeFixture()
        defer { remove(fixture.directory) }
        let device = try await fixture.server.registry.recordCWMPContact(try CWMPDeviceID(oui: "00D09E", serialNumber: "AUD1"), details: DeviceDetails(), at: Date())
        try await fixture.server.makeAPIApplication().test(.live) { client in
            let admin = APITests.auth(fixture.tokens[.admin])
            let operatorToken = APITests.auth(fixture.tokens[.operator_])
            #expect(try await client.execute(uri: "/api/v1/devices/\(device.id)/tags", method: .put, headers: operatorToken, body: ByteBuffer(string: #"{"add": ["audit"]}"#)).status == .ok)
            let created = try await client.execute(
                uri: "/api/v1/devices/\(device.id)/tasks", method: .post, headers: operatorToken, body: ByteBuffer(string: #"{"operation": {"op": "reboot"}}"#))
            #expect(created.status.code / 100 == 2)
            let taskID = try #require(try APITests.json(created)["id"])
            #expect(try await client.execute(uri: "/api/v1/tasks/\(taskID)", method: .delete, headers: operatorToken).status == .ok)
            #expect(try await client.execute(uri: "/api/v1/tasks/\(taskID)/retry", method: .post, headers: operatorToken).status == .created)
            #expect(try await client.execute(
                uri: "/api/v1/devices/\(device.id)/credentials", method: .put, headers: admin,
                body: ByteBuffer(string: #"{"purpose": "connectionRequest", "username": "u", "password": "audit-pw-123"}"#)).status.code / 100 == 2)
        }
        let events = try await fixture.server.registry.events(deviceID: device.id, limit: 100)
        let byOperator = events.filter { $0.actor == "token:t-operator" }.map(\.kind)
        let byAdmin = events.filter { $0.actor == "token:t-admin" }.map(\.kind)
        #expect(byOperator.contains("tags"))
        #expect(byOperator.filter { $0.hasPrefix("task") }.count >= 3, "queue, cancel, retry: \(byOperator)")
        #expect(byAdmin.contains("credentials"))
        #expect(!events.contains { $0.summary.contains("audit-pw-123") })
    }
}

/// Everything logged, as text (message and metadata).
final class LogSink: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var text: String { lock.withLock { lines.joined(separator: "\n") } }
}

struct CapturingLogHandler: LogHandler {
    let label: String
    let sink: LogSink
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        let all = self.metadata.merging(metadata ?? [:]) { $1 }
        sink.append("\(level) \(label): \(message) \(all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
    }
}
