import CWMP
import Engine
import Foundation
import GRDB
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

/// The CWMP listener over real HTTP on loopback, fed with fixture envelopes.
@Suite struct CWMPFrontEndTests {
    static let fixtures = repositoryRoot.appendingPathComponent("Fixtures/cwmp")

    static func fixture(_ name: String) throws -> ByteBuffer {
        let folder = name.hasPrefix("hostile-") ? fixtures.deletingLastPathComponent().appendingPathComponent("hostile") : fixtures
        return ByteBuffer(bytes: try Data(contentsOf: folder.appendingPathComponent(name)))
    }

    func makeServer(_ directory: String, _ adjust: (inout TandemConfiguration) -> Void = { _ in }) throws -> TandemServer {
        try TandemServerTests.makeServer(dataDirectory: directory, label: "test") { configuration in
            configuration.cwmp.listen = ListenAddress(host: "127.0.0.1", port: 0)
            configuration.cwmp.authMode = .open
            adjust(&configuration)
        }
    }

    static func cookie(_ response: TestResponse) -> HTTPFields {
        var headers = HTTPFields()
        if let setCookie = response.headers[.setCookie], let pair = setCookie.split(separator: ";").first {
            headers[.cookie] = String(pair)
        }
        return headers
    }

    @Test func informOpensASessionAndEmptyPostEndsIt() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let server = try makeServer(directory)
        try await server.makeCWMPApplication().test(.live) { client in
            let inform = try await client.execute(uri: "/", method: .post, body: Self.fixture("cpe-inform-boot.xml"))
            #expect(inform.status == .ok)
            let body = String(buffer: inform.body)
            #expect(body.contains("InformResponse") && body.contains("<MaxEnvelopes>1</MaxEnvelopes>"))
            #expect(body.contains("1a2b3c"))  // cwmp:ID echoed
            #expect(inform.headers[.setCookie]?.hasPrefix("session=") == true)
            let end = try await client.execute(uri: "/", method: .post, headers: Self.cookie(inform), body: ByteBuffer())
            #expect(end.status == .noContent)
        }
        let device = try #require(try await server.registry.device(try DeviceIdentifier(parsing: "00D09E-HG8245-4857544312345678")))
        #expect(device.manufacturer == "Acme Networks")
        #expect(device.softwareVersion == "V5R019C10S125")
        #expect(device.connectionRequestURL == "http://192.0.2.10:7547/cr?a=1&b=2")
        #expect(device.dataModelRoot == "Device")
        let stored = try await server.registry.parameters(deviceID: device.id, under: "Device.ManagementServer.")
        #expect(stored.contains { $0.path == "Device.ManagementServer.ParameterKey" && $0.value == .string("key-7") })
        let events = try await server.registry.events(deviceID: device.id, limit: 10)
        #expect(events.contains { $0.kind == "boot" && $0.summary.contains("1 BOOT") && $0.detail["remoteAddress"] == "127.0.0.1" })
        #expect(await server.cwmpSessions.sessionCount == 0)
    }

    @Test func queuedTasksRunInTheSessionAndUpdateTheRegistry() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let server = try makeServer(directory)
        let identity = try CWMPDeviceID(manufacturer: "Acme Networks", oui: "00D09E", productClass: "HG8245", serialNumber: "4857544312345678")
        let device = try await server.registry.recordCWMPContact(identity, details: DeviceDetails(), at: Date())
        let path = try PathExpression("Device.DeviceInfo.UpTime")
        let get = try await server.registry.enqueueTask(deviceID: device.id, operation: .get(paths: [path]), expiresAt: nil, actor: "test")
        let set = try await server.registry.enqueueTask(
            deviceID: device.id,
            operation: .set(values: [ParameterSetting(path: try PathExpression("Device.WiFi.SSID.1.SSID"), value: .string("home"))], allowPartial: false, parameterKey: "k9"),
            expiresAt: nil, actor: "test")
        let decoder = CWMPDecoder()
        let encoder = CWMPEncoder()
        try await server.makeCWMPApplication().test(.live) { client in
            let inform = try await client.execute(uri: "/", method: .post, body: Self.fixture("cpe-inform-boot.xml"))
            let cookie = Self.cookie(inform)
            // Empty POST: the ACS sends its first request, GetParameterValues.
            let first = try await client.execute(uri: "/", method: .post, headers: cookie, body: ByteBuffer())
            #expect(first.status == .ok)
            let request = try decoder.decode(String(buffer: first.body), from: .acs)
            guard case .acsRequest(.getParameterValues(let names)) = request.body else {
                Issue.record("expected GetParameterValues, got \(request.body.methodName)")
                return
            }
            #expect(names == ["Device.DeviceInfo.UpTime"])
            let answer = CWMPEnvelope(
                cwmpID: request.cwmpID,
                body: .cpeResponse(.getParameterValues(parameters: [CWMPParameterValue(name: "Device.DeviceInfo.UpTime", value: .unsignedInt(4242))])))
            let second = try await client.execute(uri: "/", method: .post, headers: cookie, body: ByteBuffer(bytes: encoder.encode(answer)))
            let setRequest = try decoder.decode(String(buffer: second.body), from: .acs)
            guard case .acsRequest(.setParameterValues(let parameters, let key)) = setRequest.body else {
                Issue.record("expected SetParameterValues, got \(setRequest.body.methodName)")
                return
            }
            #expect(parameters == [CWMPParameterValue(name: "Device.WiFi.SSID.1.SSID", value: .string("home"))])
            #expect(key == "k9")
            let setAnswer = CWMPEnvelope(cwmpID: setRequest.cwmpID, body: .cpeResponse(.setParameterValues(status: 0)))
            let third = try await client.execute(uri: "/", method: .post, headers: cookie, body: ByteBuffer(bytes: encoder.encode(setAnswer)))
            #expect(third.status == .noContent)
        }
        let done = try #require(try await server.registry.task(id: get.id))
        #expect(done.state == .done)
        #expect(done.result?.value(at: "Device.DeviceInfo.UpTime") == .unsignedInt(4242))
        #expect(try await server.registry.task(id: set.id)?.state == .done)
        let stored = try await server.registry.parameters(deviceID: device.id, under: "Device.")
        #expect(stored.contains { $0.path == "Device.DeviceInfo.UpTime" && $0.value == .unsignedInt(4242) })
        #expect(stored.contains { $0.path == "Device.WiFi.SSID.1.SSID" && $0.value == .string("home") })
    }

    @Test func cpeFaultIsRecordedAgainstItsTask() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let server = try makeServer(directory)
        let identity = try CWMPDeviceID(oui: "00D09E", productClass: "HG8245", serialNumber: "4857544312345678")
        let device = try await server.registry.recordCWMPContact(identity, details: DeviceDetails(), at: Date())
        let task = try await server.registry.enqueueTask(
            deviceID: device.id,
            operation: .set(values: [ParameterSetting(path: try PathExpression("Device.DeviceInfo.UpTime"), value: .unsignedInt(1))], allowPartial: false, parameterKey: nil),
            expiresAt: nil, actor: "test")
        try await server.makeCWMPApplication().test(.live) { client in
            let cookie = Self.cookie(try await client.execute(uri: "/", method: .post, body: Self.fixture("cpe-inform-boot.xml")))
            let request = try CWMPDecoder().decode(String(buffer: try await client.execute(uri: "/", method: .post, headers: cookie, body: ByteBuffer()).body), from: .acs)
            let fault = CWMPEnvelope(cwmpID: request.cwmpID, body: .fault(CWMPFault(
                code: .invalidArguments, message: "Invalid arguments",
                parameterFaults: [CWMPFault.ParameterFault(parameterName: "Device.DeviceInfo.UpTime", code: .notWritable, message: "read-only")])))
            let reply = try await client.execute(uri: "/", method: .post, headers: cookie, body: ByteBuffer(bytes: CWMPEncoder().encode(fault)))
            #expect(reply.status == .noContent)
        }
        let faulted = try #require(try await server.registry.task(id: task.id))
        #expect(faulted.state == .faulted)
        #expect(faulted.fault?.code == .cwmp(.invalidArguments))
        let events = try await server.registry.events(deviceID: device.id, limit: 10)
        #expect(events.contains { $0.kind == "fault" && $0.summary.contains("9008") })
    }

    @Test func malformedAndOversizedBodiesAreRefused() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let server = try makeServer(directory) { $0.cwmp.maxBodyBytes = 64 * 1024 }
        try await server.makeCWMPApplication().test(.live) { client in
            let malformed = try await client.execute(uri: "/", method: .post, body: ByteBuffer(string: "<soap:Envelope><unclosed>"))
            #expect(malformed.status == .badRequest)
            let xxe = try await client.execute(uri: "/", method: .post, body: Self.fixture("hostile-doctype-xxe.xml"))
            #expect(xxe.status == .badRequest)
            let huge = try await client.execute(uri: "/", method: .post, body: ByteBuffer(repeating: UInt8(ascii: " "), count: 65 * 1024))
            #expect(huge.status == .contentTooLarge)
            // The server keeps serving.
            let inform = try await client.execute(uri: "/", method: .post, body: Self.fixture("cpe-inform-boot.xml"))
            #expect(inform.status == .ok)
        }
        let events = try await server.registry.events(deviceID: nil, limit: 20)
        #expect(events.filter { $0.kind == "protocolError" }.count >= 2)
    }

    @Test func digestAuthenticationGuardsTheSession() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let server = try makeServer(directory) {
            $0.cwmp.authMode = .digest
            $0.cwmp.passwordTemplate = "pw-{serialNumber}"
        }
        try await server.makeCWMPApplication().test(.live) { client in
            let challenge = try await client.execute(uri: "/", method: .post, body: Self.fixture("cpe-inform-boot.xml"))
            #expect(challenge.status == .unauthorized)
            let offers = challenge.headers[values: .wwwAuthenticate]
            #expect(offers.count == 2)
            #expect(await server.cwmpSessions.sessionCount == 0)  // no session before authentication

            var wrong = DigestClient(username: "00D09E-HG8245-4857544312345678", password: "guess")
            var headers = HTTPFields()
            headers[.authorization] = wrong.authorization(for: offers, method: "POST", uri: "/")
            #expect(try await client.execute(uri: "/", method: .post, headers: headers, body: Self.fixture("cpe-inform-boot.xml")).status == .unauthorized)

            var right = DigestClient(username: "00D09E-HG8245-4857544312345678", password: "pw-4857544312345678")
            headers[.authorization] = right.authorization(for: offers, method: "POST", uri: "/")
            let inform = try await client.execute(uri: "/", method: .post, headers: headers, body: Self.fixture("cpe-inform-boot.xml"))
            #expect(inform.status == .ok)
            // Within the session the cookie suffices.
            let end = try await client.execute(uri: "/", method: .post, headers: Self.cookie(inform), body: ByteBuffer())
            #expect(end.status == .noContent)
        }
    }

    @Test func xmlPrologIsLeftOutForProductClassesThatRejectIt() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let server = try makeServer(directory) { $0.cwmp.omitXMLDeclarationFor = ["HG8245"] }
        try await server.makeCWMPApplication().test(.live) { client in
            let picky = try await client.execute(uri: "/", method: .post, body: Self.fixture("cpe-inform-boot.xml"))
            #expect(String(buffer: picky.body).hasPrefix("<SOAP-ENV:Envelope") || String(buffer: picky.body).hasPrefix("<soap"))
            #expect(!String(buffer: picky.body).contains("<?xml"))
            let other = try await client.execute(uri: "/", method: .post, body: Self.fixture("cpe-inform-periodic-igd-1-1.xml"))
            #expect(String(buffer: other.body).hasPrefix("<?xml"))
            // Replies use the CPE's own cwmp namespace.
            #expect(String(buffer: other.body).contains("urn:dslforum-org:cwmp-1-1"))
        }
    }

    @Test func overloadRefusesNewSessionsButKeepsOpenOnes() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let server = try makeServer(directory) {
            $0.cwmp.maxConcurrentSessions = 1
            $0.cwmp.retryAfterSeconds = 7
            $0.cwmp.adaptiveRetryAfter = false
        }
        try await server.makeCWMPApplication().test(.live) { client in
            let first = try await client.execute(uri: "/", method: .post, body: Self.fixture("cpe-inform-boot.xml"))
            #expect(first.status == .ok)
            let second = try await client.execute(uri: "/", method: .post, body: Self.fixture("cpe-inform-periodic-igd-1-1.xml"))
            #expect(second.status == .serviceUnavailable)
            #expect(second.headers[.retryAfter] == "7")
            let end = try await client.execute(uri: "/", method: .post, headers: Self.cookie(first), body: ByteBuffer())
            #expect(end.status == .noContent)
            let third = try await client.execute(uri: "/", method: .post, body: Self.fixture("cpe-inform-periodic-igd-1-1.xml"))
            #expect(third.status == .ok)
        }
    }

    @Test func adaptiveRetryAfterStaysWithinTheMaximum() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let server = try makeServer(directory) { $0.cwmp.maxConcurrentSessions = 1; $0.cwmp.retryAfterSeconds = 7 }
        try await server.makeCWMPApplication().test(.live) { client in
            let first = try await client.execute(uri: "/", method: .post, body: Self.fixture("cpe-inform-boot.xml"))
            #expect(first.status == .ok)
            // One open session, nothing measured yet: the advisor answers about one drain period.
            for _ in 0..<5 {
                let refused = try await client.execute(uri: "/", method: .post, body: Self.fixture("cpe-inform-periodic-igd-1-1.xml"))
                #expect(refused.status == .serviceUnavailable)
                let wait = try #require(refused.headers[.retryAfter].flatMap { Int($0) })
                #expect((1...7).contains(wait))
            }
        }
    }

    /// TR-069 3.4.4: a session is authenticated when it starts. The front end skips authentication
    /// for a cookie naming an open session; if that session ends (times out) before the request
    /// reaches it, the request must not open a new session unauthenticated.
    @Test func aRequestLetThroughForAnEndedSessionCannotOpenANewOne() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let registry = try SQLiteRegistryStore(dataDirectory: directory)
        let sessions = CWMPSessionManager(registry: registry, logger: Logger(label: "ended-session"))
        let inform = Array(buffer: try Self.fixture("cpe-inform-boot.xml"))
        let stale = await sessions.handle(CWMPExchange(sessionID: "ended-session", body: inform, mayOpenSession: false))
        #expect(stale.status == 401)
        #expect(stale.newSessionID == nil)
        #expect(await sessions.sessionCount == 0)
        #expect(try await registry.countDevices(matching: DeviceFilter()) == 0)
        // Once authenticated (the front end's second pass), the same request opens a session.
        let authenticated = await sessions.handle(CWMPExchange(sessionID: "ended-session", body: inform, mayOpenSession: true))
        #expect(authenticated.status == 200)
        #expect(authenticated.newSessionID != nil)
        #expect(try await registry.countDevices(matching: DeviceFilter()) == 1)
    }
    /// A session that times out while its Inform is being written must not leave its device
    /// mapped to it: `hasSession(deviceID:)` would answer true, and queued work would wait for a
    /// session that is gone instead of a Connection Request. A second SQLite connection holds the
    /// registry's write lock so the write waits; the sweep ends the session meanwhile.
    @Test func aSessionThatExpiresDuringItsInformWriteLeavesNoDeviceMapping() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let registry = try SQLiteRegistryStore(dataDirectory: directory)
        var configuration = CWMPSessionManager.Configuration()
        configuration.session.sessionTimeout = .milliseconds(50)
        let sessions = CWMPSessionManager(configuration: configuration, registry: registry, logger: Logger(label: "expiring-session"))
        let inform = Array(buffer: try Self.fixture("cpe-inform-boot.xml"))

        // The lock is taken and released on GRDB's own thread for this connection (its writes must
        // not leave a transaction open, so the closure holds it until told to release).
        let locker = try DatabaseQueue(path: registry.path)
        let locked = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let holder = Task {
            try await locker.writeWithoutTransaction { db in
                try db.execute(sql: "BEGIN IMMEDIATE")
                locked.signal()
                release.wait()
                try db.execute(sql: "ROLLBACK")
            }
        }
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { locked.wait(); continuation.resume() }
        }
        let reply = Task { await sessions.handle(CWMPExchange(sessionID: nil, body: inform, mayOpenSession: true)) }
        // Wait until the session exists and is past its deadline, then sweep.
        let start = ContinuousClock.now
        while await sessions.sessionCount == 0, ContinuousClock.now - start < .seconds(4) { try await Task.sleep(for: .milliseconds(5)) }
        #expect(await sessions.sessionCount == 1)
        try await Task.sleep(for: .milliseconds(120))
        await sessions.expireIdleSessions()
        #expect(await sessions.sessionCount == 0)
        #expect(try await registry.countDevices(matching: DeviceFilter()) == 0, "the write is still held")
        release.signal()
        try await holder.value

        let answer = await reply.value
        #expect(answer.status == 204, "no InformResponse for a session that is over")
        let devices = try await registry.devices(matching: DeviceFilter(), page: Page())
        #expect(devices.count == 1, "the Inform itself was recorded")
        let device = try #require(devices.first)
        #expect(await sessions.hasSession(deviceID: device.id) == false)
        #expect(await sessions.acceptsQueuedWork(deviceID: device.id) == false)
        #expect(await sessions.sessionCount == 0)
    }
}
