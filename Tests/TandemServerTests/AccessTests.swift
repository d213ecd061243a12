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
    /// Walks the routes of the API router itself (not a list kept beside it): each one is documented
    /// in `Schemas/openapi.json`, and each `/api/` route refuses a missing token and a forged one
    /// (401 with a JSON body and a Bearer challenge), answers 403 to every role below the documented
    /// one and lets every role at or above it through. A route added unguarded or undocumented fails.
    @Test func everyRouteOfTheRouterRefusesMissingForgedAndWeakTokens() async throws {
        let fixture = try await APITests().makeFixture()
        defer { remove(fixture.directory) }
        let device = try await fixture.server.registry.recordCWMPContact(try CWMPDeviceID(oui: "00D09E", serialNumber: "R1"), details: DeviceDetails(), at: Date())
        let documented = try OpenAPIRoutes.load()
        let served = fixture.server.apiRouterRoutes
        #expect(served.count >= 23, "the router lists \(served.count) routes")
        #expect(Set(served.map { "\($0.method) \($0.path)" }) == Set(documented.keys), "the router and Schemas/openapi.json disagree")
        let order: [APIRole] = [.readOnly, .operator_, .admin]
        try await fixture.server.makeAPIApplication().test(.live) { client in
            for route in served {
                let name = "\(route.method) \(route.path)"
                let method = try #require(HTTPRequest.Method(route.method))
                // A fresh task each time, so that cancel and retry find one in a state they accept.
                let task = try await fixture.server.registry.enqueueTask(deviceID: device.id, operation: .factoryReset, expiresAt: nil, actor: "t")
                let uri = try OpenAPIRoutes.concrete(route.path, ["device": "\(device.id)", "task": "\(task.id)", "migration": "m"])
                guard case .some(.some(let needed)) = documented[name] else {
                    // Open routes (monitoring) are outside /api/ and answer without a token.
                    #expect(!route.path.hasPrefix("/api/"), "\(name) is documented without a role")
                    #expect(try await client.execute(uri: uri, method: method).status == .ok, "\(name) without a token")
                    continue
                }
                let body = ByteBuffer(string: "{}")
                let anonymous = try await client.execute(uri: uri, method: method, headers: APITests.auth(nil), body: body)
                #expect(anonymous.status == .unauthorized, "\(name) without a token: \(anonymous.status)")
                #expect(anonymous.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true, "\(name): no Bearer challenge")
                #expect((try? APITests.json(anonymous)["error"] as? [String: Any])?["status"] as? Int == 401, "\(name): no JSON error")
                let forged = try await client.execute(uri: uri, method: method, headers: APITests.auth("tdm_1_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), body: body)
                #expect(forged.status == .unauthorized, "\(name) with a forged token: \(forged.status)")
                for role in order {
                    let response = try await client.execute(uri: uri, method: method, headers: APITests.auth(fixture.tokens[role]), body: body)
                    if order.firstIndex(of: role)! >= order.firstIndex(of: needed)! {
                        #expect(response.status != .forbidden && response.status != .unauthorized, "\(name) as \(role.rawValue): \(response.status)")
                    } else {
                        #expect(response.status == .forbidden, "\(name) as \(role.rawValue): \(response.status)")
                        #expect((try? APITests.json(response)["error"] as? [String: Any])?["status"] as? Int == 403, "\(name): no JSON error")
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
        let (logger, sink) = capturingLogger("capture")
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

    /// `tandem token create` and `tandem token revoke` (local commands on the registry file) and API
    /// writes made with that token each leave an audit event naming the token by name and id; its
    /// secret (and hash) reaches neither the event log nor any log line, at trace level.
    @Test func tokenCommandsAndAPIWritesAreAuditedByTokenNeverBySecret() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let created = try await runTandemAsync(["token", "create", "--data-dir", directory, "--name", "ops-audit", "--role", "admin"])
        #expect(created.status == 0, "\(created.stderr)")
        let text = try #require(created.stdout.split(whereSeparator: \.isWhitespace).last.map(String.init))
        let token = try #require(BearerToken(text))

        let (logger, sink) = capturingLogger("audit")
        var configuration = TandemConfiguration()
        configuration.dataDirectory = directory
        configuration.api.listen = ListenAddress(host: "127.0.0.1", port: 0)
        configuration.usp.webSocketListen = nil
        let server = try TandemServer(configuration: configuration, logger: logger)
        let hash = try #require(try await server.registry.token(id: token.id)).secretHash
        let device = try await server.makeAPIApplication().test(.live) { client in
            let headers = APITests.auth(text)
            let policy = #"{"fileName": "audit.yaml", "text": "policies:\n  - name: audit\n    ensure:\n      parameters:\n        Device.Time.NTPServer1: ntp.audit.test\n"}"#
            let applied = try await client.execute(uri: "/api/v1/policies", method: .put, headers: headers, body: ByteBuffer(string: policy))
            #expect(applied.status == .ok, "\(String(buffer: applied.body))")
            let device = try await server.registry.recordCWMPContact(try CWMPDeviceID(oui: "00D09E", serialNumber: "AUDIT2"), details: DeviceDetails(), at: Date())
            let queued = try await client.execute(
                uri: "/api/v1/devices/\(device.id)/tasks", method: .post, headers: headers, body: ByteBuffer(string: #"{"operation": {"op": "reboot"}}"#))
            #expect(queued.status.code / 100 == 2, "\(String(buffer: queued.body))")

            let revoked = try await runTandemAsync(["token", "revoke", "--data-dir", directory, "ops-audit"])
            #expect(revoked.status == 0, "\(revoked.stderr)")
            #expect(try await client.execute(uri: "/api/v1/devices", method: .get, headers: headers).status == .unauthorized)
            for output in [created.stderr, revoked.stdout, revoked.stderr] {
                #expect(!output.contains(token.secret))
            }
            return device
        }

        let events = try await server.registry.events(deviceID: nil, limit: 500)
        let audit = events.filter { $0.kind == "audit" }
        let creation = try #require(audit.first { $0.detail["action"] == "tokenCreated" })
        #expect(creation.detail["token"] == "ops-audit" && creation.detail["tokenId"] == "\(token.id)" && creation.detail["role"] == "admin")
        #expect(creation.summary.contains("ops-audit") && creation.summary.contains("id \(token.id)"))
        #expect(creation.actor.hasPrefix("cli:") && creation.actor.count > 4, "the local user who ran the command: \(creation.actor)")
        let revocation = try #require(audit.first { $0.detail["action"] == "tokenRevoked" })
        #expect(revocation.detail["token"] == "ops-audit" && revocation.detail["tokenId"] == "\(token.id)")
        #expect(revocation.actor == creation.actor)
        // The API writes name the token that made them.
        #expect(events.contains { $0.kind == "policy" && $0.actor == "token:ops-audit" }, "\(events.map { "\($0.kind) \($0.actor)" })")
        let deviceEvents = try await server.registry.events(deviceID: device.id, limit: 100)
        #expect(deviceEvents.contains { $0.kind.hasPrefix("task") && $0.actor == "token:ops-audit" }, "\(deviceEvents.map { "\($0.kind) \($0.actor)" })")
        // Never the secret, nor its hash, in events or logs.
        let everything = events.map { "\($0.summary) \($0.actor) \($0.detail)" }.joined(separator: "\n")
        #expect(!everything.contains(token.secret) && !everything.contains(hash))
        let logged = sink.text
        #expect(!logged.isEmpty)
        #expect(!logged.contains(token.secret) && !logged.contains(hash), "the token secret appears in the log")
    }
}

/// The operations `Schemas/openapi.json` documents: "METHOD /path" to the role it needs
/// (`x-tandem-role`), or nil for the open monitoring routes (`security: []`).
enum OpenAPIRoutes {
    static func load() throws -> [String: APIRole?] {
        let data = try Data(contentsOf: repositoryRoot.appendingPathComponent("Schemas/openapi.json"))
        let spec = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let paths = try #require(spec["paths"] as? [String: [String: Any]])
        var routes: [String: APIRole?] = [:]
        for (path, operations) in paths {
            for (method, operation) in operations {
                let operation = try #require(operation as? [String: Any], "\(method) \(path)")
                let security = try #require(operation["security"] as? [[String: Any]], "\(method) \(path) documents no security")
                if security.isEmpty {
                    routes["\(method.uppercased()) \(path)"] = .some(nil)
                } else {
                    let role = try #require((operation["x-tandem-role"] as? String).flatMap(APIRole.init(rawValue:)), "\(method) \(path): no valid x-tandem-role")
                    routes["\(method.uppercased()) \(path)"] = role
                }
            }
        }
        return routes
    }

    /// `path` with each `{name}` replaced by `values[name]`; a parameter without a value fails the test.
    static func concrete(_ path: String, _ values: [String: String]) throws -> String {
        var result = ""
        var rest = Substring(path)
        while let open = rest.firstIndex(of: "{") {
            let close = try #require(rest[open...].firstIndex(of: "}"), "unbalanced braces in \(path)")
            let name = String(rest[rest.index(after: open)..<close])
            result += rest[..<open] + (try #require(values[name], "no test value for the path parameter {\(name)} of \(path)"))
            rest = rest[rest.index(after: close)...]
        }
        return result + rest
    }
}

/// A logger at trace level whose every line goes to the returned sink.
func capturingLogger(_ label: String) -> (Logger, LogSink) {
    let sink = LogSink()
    var logger = Logger(label: label) { label in CapturingLogHandler(label: label, sink: sink) }
    logger.logLevel = .trace
    return (logger, sink)
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

    func log(event: LogEvent) {
        let all = self.metadata.merging(event.metadata ?? [:]) { $1 }
        sink.append("\(event.level) \(label): \(event.message) \(all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
    }
}
