import Foundation
import HTTPAuthentication
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Registry
import TandemCore
import TandemServer
import Testing

/// The REST API over real HTTP: tokens, roles, errors, devices, tasks, and its OpenAPI description.
@Suite struct APITests {
    struct Fixture {
        let directory: String
        let server: TandemServer
        var tokens: [APIRole: String] = [:]
    }

    /// `throttled: false` lifts the limit on failed authentications for tests that fail on purpose.
    func makeFixture(throttled: Bool = false) async throws -> Fixture {
        let directory = temporaryDirectory()
        var configuration = TandemConfiguration()
        configuration.dataDirectory = directory
        configuration.api.listen = ListenAddress(host: "127.0.0.1", port: 0)
        if !throttled { configuration.api.maxFailedAuthenticationsPerMinute = 1_000_000 }
        let server = try TandemServer(configuration: configuration, logger: Logger(label: "test"))
        var fixture = Fixture(directory: directory, server: server)
        for role in APIRole.allCases {
            let secret = BearerToken.makeSecret()
            let token = try await server.registry.createToken(name: "t-\(role.rawValue)", role: role, secretHash: BearerToken.hash(secret), actor: "test")
            fixture.tokens[role] = BearerToken(id: token.id, secret: secret).text
        }
        return fixture
    }

    static func auth(_ token: String?) -> HTTPFields {
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        headers[.contentType] = "application/json"
        return headers
    }

    static func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [String: Any])
    }

    @Test func aRevokedTokenIsRefusedAndMonitoringStaysOpen() async throws {
        let fixture = try await makeFixture()
        defer { remove(fixture.directory) }
        try await fixture.server.makeAPIApplication().test(.live) { client in
            #expect(try await client.execute(uri: "/api/v1/devices", method: .get, headers: Self.auth(fixture.tokens[.admin])).status == .ok)
            #expect(try await fixture.server.registry.revokeToken(name: "t-admin", actor: "test"))
            let revoked = try await client.execute(uri: "/api/v1/devices", method: .get, headers: Self.auth(fixture.tokens[.admin]))
            #expect(revoked.status == .unauthorized)
            #expect((try Self.json(revoked)["error"] as? [String: Any])?["message"] as? String == "invalid or revoked token")
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
        }
    }

    /// The router's routes and their roles against the OpenAPI description are checked by
    /// `AccessTests.everyRouteOfTheRouterRefusesMissingForgedAndWeakTokens`; this checks the rest.
    @Test func openAPIDescriptionListsEveryOperation() throws {
        let data = try Data(contentsOf: repositoryRoot.appendingPathComponent("Schemas/openapi.json"))
        let spec = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let documented = try OpenAPIRoutes.load()
        #expect(documented["GET /healthz"] == .some(nil) && documented["GET /metrics"] == .some(nil))
        // Every operation the API accepts is listed in the Operation schema.
        let schemas = (spec["components"] as? [String: Any])?["schemas"] as? [String: Any]
        let operation = schemas?["Operation"] as? [String: Any]
        let names = ((operation?["properties"] as? [String: Any])?["op"] as? [String: Any])?["enum"] as? [String]
        #expect(names == TandemCore.Operation.allNames)
        for name in TandemCore.Operation.allNames {
            #expect((operation?["description"] as? String)?.contains(name) == true, "\(name) is not described")
        }
    }

    @Test func devicesAreListedFilteredAndFoundByAnyIdentifier() async throws {
        let fixture = try await makeFixture()
        defer { remove(fixture.directory) }
        let registry = fixture.server.registry
        for index in 1...5 {
            _ = try await registry.recordCWMPContact(
                try CWMPDeviceID(manufacturer: index <= 2 ? "Acme" : "Other", oui: "00D09E", productClass: "IGD", serialNumber: "S\(index)"),
                details: DeviceDetails(), at: Date())
        }
        _ = try await registry.recordUSPContact(try EndpointID("os::00D09E-S1"), identity: nil, details: DeviceDetails(), at: Date())
        try await fixture.server.makeAPIApplication().test(.live) { client in
            let token = Self.auth(fixture.tokens[.readOnly])
            let page = try Self.json(try await client.execute(uri: "/api/v1/devices?limit=2", method: .get, headers: token))
            #expect((page["devices"] as? [[String: Any]])?.count == 2)
            #expect(page["total"] as? Int == 5)
            let next = try #require(page["next"] as? Int)
            let second = try Self.json(try await client.execute(uri: "/api/v1/devices?limit=2&after=\(next)", method: .get, headers: token))
            #expect((second["devices"] as? [[String: Any]])?.first?["serialNumber"] as? String == "S3")
            let acme = try Self.json(try await client.execute(uri: "/api/v1/devices?manufacturer=Acme", method: .get, headers: token))
            #expect(acme["total"] as? Int == 2)
            let usp = try Self.json(try await client.execute(uri: "/api/v1/devices?protocol=usp", method: .get, headers: token))
            #expect((usp["devices"] as? [[String: Any]])?.first?["uspEndpointId"] as? String == "os::00D09E-S1")
            for identifier in ["1", "00D09E-IGD-S1", "os%3A%3A00D09E-S1"] {
                let device = try Self.json(try await client.execute(uri: "/api/v1/devices/\(identifier)", method: .get, headers: token))
                #expect(device["serialNumber"] as? String == "S1", "lookup by \(identifier)")
            }
            #expect(try await client.execute(uri: "/api/v1/devices/999", method: .get, headers: token).status == .notFound)
            let bad = try await client.execute(uri: "/api/v1/devices/nonsense", method: .get, headers: token)
            #expect(bad.status == .badRequest)
            #expect((try Self.json(bad)["error"] as? [String: Any])?["message"] as? String != nil)
            #expect(try await client.execute(uri: "/api/v1/devices?protocol=snmp", method: .get, headers: token).status == .badRequest)
            #expect(try await client.execute(uri: "/api/v1/devices?limit=0", method: .get, headers: token).status == .badRequest)
        }
    }

    @Test func tasksAreQueuedCancelledAndRetried() async throws {
        let fixture = try await makeFixture()
        defer { remove(fixture.directory) }
        let registry = fixture.server.registry
        // A device whose connection request URL answers nothing: tasks stay queued.
        let device = try await registry.recordCWMPContact(
            try CWMPDeviceID(oui: "00D09E", productClass: "IGD", serialNumber: "S1"),
            details: DeviceDetails(connectionRequestURL: "http://127.0.0.1:1/cr"), at: Date())
        try await fixture.server.makeAPIApplication().test(.live) { client in
            let token = Self.auth(fixture.tokens[.operator_])
            let body = #"{"operation": {"op": "get", "paths": ["Device.DeviceInfo.SoftwareVersion"]}, "expiresInSeconds": 3600}"#
            let created = try await client.execute(uri: "/api/v1/devices/\(device.id)/tasks", method: .post, headers: token, body: ByteBuffer(string: body))
            #expect(created.status == .accepted)
            let task = try Self.json(created)
            #expect(task["state"] as? String == "queued")
            #expect((task["connectionRequest"] as? String)?.hasPrefix("unreachable") == true)
            let id = try #require(task["id"] as? Int)

            let badPath = #"{"operation": {"op": "get", "paths": ["Device..X"]}}"#
            let refused = try await client.execute(uri: "/api/v1/devices/\(device.id)/tasks", method: .post, headers: token, body: ByteBuffer(string: badPath))
            #expect(refused.status == .badRequest)
            #expect(((try Self.json(refused)["error"] as? [String: Any])?["message"] as? String)?.contains("column 8") == true)
            let badValue = #"{"operation": {"op": "set", "values": [{"path": "Device.X", "type": "unsignedInt", "value": "-1"}]}}"#
            #expect(try await client.execute(uri: "/api/v1/devices/\(device.id)/tasks", method: .post, headers: token, body: ByteBuffer(string: badValue)).status == .badRequest)

            let cancelled = try await client.execute(uri: "/api/v1/tasks/\(id)", method: .delete, headers: token)
            #expect(try Self.json(cancelled)["state"] as? String == "cancelled")
            #expect(try await client.execute(uri: "/api/v1/tasks/\(id)", method: .delete, headers: token).status == .conflict)
            let retried = try await client.execute(uri: "/api/v1/tasks/\(id)/retry", method: .post, headers: token)
            #expect(retried.status == .created)
            #expect(try Self.json(retried)["state"] as? String == "queued")
            let list = try Self.json(try await client.execute(uri: "/api/v1/devices/\(device.id)/tasks?state=queued", method: .get, headers: token))
            #expect((list["tasks"] as? [Any])?.count == 1)

            let tags = try await client.execute(uri: "/api/v1/devices/\(device.id)/tags", method: .put, headers: token, body: ByteBuffer(string: #"{"add": ["beta"]}"#))
            #expect(try Self.json(tags)["tags"] as? [String] == ["beta"])
            let events = try Self.json(try await client.execute(uri: "/api/v1/devices/\(device.id)/events", method: .get, headers: token))
            let actors = (events["events"] as? [[String: Any]])?.compactMap { $0["actor"] as? String } ?? []
            #expect(actors.contains("token:t-operator"))  // operator actions are audited with the token's name

            let admin = Self.auth(fixture.tokens[.admin])
            let credentials = #"{"purpose": "connectionRequest", "username": "cr", "password": "secret"}"#
            #expect(try await client.execute(uri: "/api/v1/devices/\(device.id)/credentials", method: .put, headers: admin, body: ByteBuffer(string: credentials)).status == .noContent)
        }
        #expect(try await registry.credentials(deviceID: device.id, purpose: .connectionRequest)?.password == "secret")
    }

    @Test func tokenCommandPrintsTheSecretOnceAsTheLastWord() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let created = try runTandem(["token", "create", "--data-dir", directory, "--name", "ci", "--role", "operator"])
        #expect(created.status == 0, "\(created.stderr)")
        let secret = try #require(created.stdout.split(whereSeparator: \.isWhitespace).last.map(String.init))
        let token = try #require(BearerToken(secret))
        let store = try SQLiteRegistryStore(dataDirectory: directory)
        let stored = try #require(try await store.token(id: token.id))
        #expect(stored.name == "ci" && stored.role == .operator_)
        #expect(token.matches(storedHash: stored.secretHash))
        #expect(stored.secretHash != token.secret)  // only the hash is stored
        let listed = try runTandem(["token", "list", "--data-dir", directory])
        #expect(listed.stdout.contains("ci") && !listed.stdout.contains(token.secret))
        #expect(try runTandem(["token", "create", "--data-dir", directory, "--name", "ci", "--role", "admin"]).status == 2)
        #expect(try runTandem(["token", "create", "--data-dir", directory, "--name", "x", "--role", "root"]).status == 2)
        #expect(try runTandem(["token", "revoke", "--data-dir", directory, "ci"]).status == 0)
        #expect(try await store.token(id: token.id)?.revokedAt != nil)
    }
}
