import Engine
import Foundation
import Hummingbird
import Logging
import Registry
import ServiceLifecycle
import TandemCore
import TandemServer
import Testing

/// TR-069 3.2.2: a CPE in a session answers a Connection Request with 503. `wake` tries twice more,
/// shortly after, and reports the last answer.
@Suite struct ConnectionRequestRetryTests {
    /// Counts the Connection Requests and answers 503 to the first `busyAnswers`, then 204.
    actor Responder {
        let busyAnswers: Int
        private(set) var requests = 0
        init(busyAnswers: Int) { self.busyAnswers = busyAnswers }
        func next() -> HTTPResponse.Status {
            requests += 1
            return requests <= busyAnswers ? .serviceUnavailable : .noContent
        }
    }

    func wake(busyAnswers: Int) async throws -> (ConnectionRequestOutcome, requests: Int, events: [String]) {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let server = try makeServer(dataDirectory: directory, label: "cr-retry")
        let responder = Responder(busyAnswers: busyAnswers)
        let router = Router()
        router.get("/cr") { _, _ in Response(status: await responder.next()) }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let cpe = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) })
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await cpe.runService() }
            defer { group.cancelAll() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let device = try await server.registry.recordCWMPContact(
                try CWMPDeviceID(oui: "00D09E", serialNumber: "BUSY\(busyAnswers)"),
                details: DeviceDetails(connectionRequestURL: "http://127.0.0.1:\(port)/cr"), at: Date())
            let outcome = await server.operations.wake(device)
            let events = try await server.registry.events(deviceID: device.id, limit: 10).filter { $0.kind == "connectionRequest" }.map(\.summary)
            return (outcome, await responder.requests, events)
        }
    }

    @Test func aBusyAnswerIsTriedAgain() async throws {
        let (outcome, requests, events) = try await wake(busyAnswers: 2)
        #expect(outcome == .accepted(status: 204))
        #expect(requests == 3)
        // One event per wake, with the outcome that counted.
        #expect(events == ["connection request: accepted (HTTP 204)"])
    }

    @Test func aDeviceBusyThroughoutIsReportedBusyAfterThreeTries() async throws {
        let (outcome, requests, events) = try await wake(busyAnswers: 10)
        #expect(outcome == .busy)
        #expect(requests == 3)
        #expect(events == ["connection request: \(ConnectionRequestOutcome.busy)"])
    }

    @Test func anAcceptedRequestIsSentOnce() async throws {
        let (outcome, requests, _) = try await wake(busyAnswers: 0)
        #expect(outcome == .accepted(status: 204))
        #expect(requests == 1)
    }
}
