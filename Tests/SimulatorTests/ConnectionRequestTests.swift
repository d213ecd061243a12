import AsyncHTTPClient
import CWMP
import HTTPAuthentication
import NIOCore
import NIOHTTP1
import Simulator
import TandemCore
import Testing

/// The device's connection request listener, driven as an ACS drives it (TR-069 3.2.2).
@Suite struct ConnectionRequestTests {
    /// GETs `url`, with an `Authorization` header when given; the status and the challenges.
    static func get(_ url: String, authorization: String? = nil) async throws -> (status: Int, challenges: [String]) {
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
        do {
            var request = HTTPClientRequest(url: url)
            if let authorization { request.headers.add(name: "Authorization", value: authorization) }
            let response = try await client.execute(request, timeout: .seconds(10))
            _ = try await response.body.collect(upTo: 1 << 16)
            try await client.shutdown()
            return (Int(response.status.code), response.headers["WWW-Authenticate"])
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// Answers the device's challenge as `username`/`password`, the way an ACS does.
    static func connectionRequest(_ url: String, username: String, password: String) async throws -> Int {
        let first = try await get(url)
        guard first.status == 401 else { return first.status }
        let path = String(url.drop { $0 != "/" }.dropFirst(2).drop { $0 != "/" })
        var digest = DigestClient(username: username, password: password)
        let answer = digest.authorization(for: first.challenges, method: "GET", uri: path)
        let authorization = try #require(answer)
        return try await get(url, authorization: authorization).status
    }

    @Test func rightCredentialsStartAConnectionRequestSessionAndWrongOnesGet401() async throws {
        try await withSimulation { acs, fleet in
            try await acs.waitForEndedSessions(1)
            let device = fleet.devices[0]
            let url = await device.connectionRequestURL
            #expect(url.hasPrefix("http://127.0.0.1:"))
            #expect(url.hasSuffix("/cr/SIM000001"))

            let anonymous = try await Self.get(url)
            #expect(anonymous.status == 401)
            let algorithms = anonymous.challenges.compactMap { DigestChallenge(headerValue: $0)?.algorithm }
            #expect(algorithms.contains(.sha256) && algorithms.contains(.md5))

            #expect(try await Self.connectionRequest(url, username: "SIM000001", password: "wrong") == 401)
            #expect(try await Self.connectionRequest(url, username: "SIM000002", password: "cr-SIM000001") == 401)
            #expect(await acs.sessions().count == 1)

            #expect(try await Self.connectionRequest(url, username: "SIM000001", password: "cr-SIM000001") == 200)
            let sessions = try await acs.waitForEndedSessions(2)
            #expect(sessions[1].inform.events == [CWMPEvent(code: .connectionRequest)])
            let status = await device.status()
            #expect(status.connectionRequestsAccepted == 1)
            #expect(status.connectionRequestsRefused == 2)

            let base = try #require(fleet.connectionRequestServer.baseURL)
            #expect(try await Self.get(base + "/cr/NOBODY").status == 404)
        }
    }

    @Test func aConnectionRequestDuringASessionGets503() async throws {
        let acs = FakeACS()
        await acs.enqueuePause(.seconds(2))
        try await withSimulation(acs: acs) { acs, fleet in
            let device = fleet.devices[0]
            _ = try await device.waitUntil { $0.phase == .inSession }
            let url = await device.connectionRequestURL
            #expect(try await Self.connectionRequest(url, username: "SIM000001", password: "cr-SIM000001") == 503)
            try await acs.waitForEndedSessions(1)
            _ = try await device.waitUntil { $0.phase == .idle }
            #expect(try await Self.connectionRequest(url, username: "SIM000001", password: "cr-SIM000001") == 200)
            let sessions = try await acs.waitForEndedSessions(2)
            #expect(sessions[1].has(.connectionRequest))
        }
    }

    @Test func changedConnectionRequestCredentialsTakeEffect() async throws {
        let acs = FakeACS()
        await acs.enqueue(.setParameterValues(parameters: [
            CWMPParameterValue(name: "Device.ManagementServer.ConnectionRequestUsername", value: .string("acs-cr")),
            CWMPParameterValue(name: "Device.ManagementServer.ConnectionRequestPassword", value: .string("n3w-secret")),
        ], parameterKey: "cr"))
        try await withSimulation(acs: acs) { acs, fleet in
            try await acs.waitForEndedSessions(1)
            let url = await fleet.devices[0].connectionRequestURL
            #expect(try await Self.connectionRequest(url, username: "SIM000001", password: "cr-SIM000001") == 401)
            #expect(try await Self.connectionRequest(url, username: "acs-cr", password: "n3w-secret") == 200)
            try await acs.waitForEndedSessions(2)
        }
    }
}
