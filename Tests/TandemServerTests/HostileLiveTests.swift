import AsyncHTTPClient
import Engine
import Foundation
import HTTPTypes
import HummingbirdWSClient
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
import USPAgentSimulator

/// The hostile corpus of `Fixtures/hostile` (and the inputs generated here: a million parameters,
/// oversized bodies and frames, segmentation floods, replays) sent to the running server while a
/// well-behaved CPE and a well-behaved USP agent complete their work.
@Suite struct HostileLiveTests {
    static let hostile = repositoryRoot.appendingPathComponent("Fixtures/hostile")

    static func corpus(_ suffix: String) throws -> [(String, Data)] {
        try FileManager.default.contentsOfDirectory(atPath: hostile.path).filter { $0.hasSuffix(suffix) }.sorted().map {
            ($0, try Data(contentsOf: hostile.appendingPathComponent($0)))
        }
    }

    /// An Inform carrying `count` parameters, built at test time.
    static func informWithParameters(_ count: Int) -> String {
        var parameters = ""
        parameters.reserveCapacity(count * 120)
        for index in 0..<count {
            parameters += "<ParameterValueStruct><Name>Device.X.\(index).V</Name><Value xsi:type=\"xsd:string\">v</Value></ParameterValueStruct>"
        }
        return """
            <soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:cwmp="urn:dslforum-org:cwmp-1-0" \
            xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" \
            xmlns:soap-enc="http://schemas.xmlsoap.org/soap/encoding/"><soap:Header><cwmp:ID soap:mustUnderstand="1">1</cwmp:ID></soap:Header>\
            <soap:Body><cwmp:Inform><DeviceId><Manufacturer>M</Manufacturer><OUI>00D09E</OUI><ProductClass>P</ProductClass>\
            <SerialNumber>MILLION</SerialNumber></DeviceId><Event soap-enc:arrayType="cwmp:EventStruct[1]"><EventStruct>\
            <EventCode>2 PERIODIC</EventCode><CommandKey></CommandKey></EventStruct></Event><MaxEnvelopes>1</MaxEnvelopes>\
            <CurrentTime>2024-01-01T00:00:00Z</CurrentTime><RetryCount>0</RetryCount>\
            <ParameterList soap-enc:arrayType="cwmp:ParameterValueStruct[\(count)]">\(parameters)</ParameterList></cwmp:Inform></soap:Body></soap:Envelope>
            """
    }

    /// Opens a USP WebSocket session as `eid`, sends `frames`, and returns the server's close code
    /// (nil when the server kept the session open until we closed it after `linger`).
    static func sendOverWebSocket(port: Int, eid: String, frames: [Data], linger: Duration = .milliseconds(300)) async throws -> WebSocketErrorCode? {
        let close = try await WebSocketClient.connect(
            url: "ws://127.0.0.1:\(port)/usp?eid=\(eid)",
            configuration: WebSocketClientConfiguration(maxFrameSize: 1 << 24, additionalHeaders: [.secWebSocketProtocol: "v1.usp"]),
            logger: Logger(label: "hostile-ws")
        ) { inbound, outbound, _ in
            for frame in frames { try await outbound.write(.binary(ByteBuffer(bytes: frame))) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { for try await _ in inbound {} }
                group.addTask {
                    try await Task.sleep(for: linger)
                    try await outbound.close(.normalClosure, reason: nil)
                }
                try await group.next()
                group.cancelAll()
            }
        }
        return close?.closeCode
    }

    @Test func theServerRefusesEveryHostileInputAndKeepsServingOthers() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        var configuration = TandemConfiguration()
        configuration.dataDirectory = directory
        configuration.api.listen = ListenAddress(host: "127.0.0.1", port: 0)
        configuration.cwmp.listen = ListenAddress(host: "127.0.0.1", port: 0)
        configuration.cwmp.authMode = .open  // so that hostile XML reaches the parser
        configuration.usp.endpointID = "self::tandem-hostile"
        configuration.usp.webSocketListen = ListenAddress(host: "127.0.0.1", port: 0)
        var logger = Logger(label: "hostile")
        logger.logLevel = .warning
        let server = try TandemServer(configuration: configuration, logger: logger)
        let (ports, continuation) = AsyncStream.makeStream(of: (String, Int).self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run { name, address in continuation.yield((name, Int(address.split(separator: ":").last ?? "") ?? 0)) } }
            defer { group.cancelAll() }
            var bound: [String: Int] = [:]
            for await (name, port) in ports {
                bound[name] = port
                if bound["api"] != nil && bound["cwmp"] != nil { break }
            }
            let cwmpPort = try #require(bound["cwmp"])
            let wsPort = try await server.webSocketTransport!.listeningPort()

            // The well-behaved devices start first and keep working throughout.
            let fleet = try SimulatedFleet(configuration: SimulatedFleet.Configuration(
                count: 1, serialPrefix: "GOOD", acsURL: "http://127.0.0.1:\(cwmpPort)/", usernameTemplate: "{deviceId}", passwordTemplate: "pw",
                periodicInformEnable: true, periodicInformInterval: 1,
                device: .init(retryMinimumWait: .milliseconds(100), retryMaximumWait: .seconds(1), httpTimeout: .seconds(10))))
            group.addTask { try await fleet.run() }
            let agent = SimulatedAgent(
                identity: .init(oui: "00D09E", serialNumber: "GOODAGENT"), controllerEndpointID: "self::tandem-hostile",
                mtp: .webSocket(url: "ws://127.0.0.1:\(wsPort)/usp"))
            group.addTask { try await agent.run() }

            let start = ContinuousClock.now

            // CWMP: every hostile XML document gets a 4xx, never a session.
            for (name, body) in try Self.corpus(".xml") {
                let answer = try await fetch("http://127.0.0.1:\(cwmpPort)/", method: "POST", bytes: body)
                #expect((400..<500).contains(answer.status), "\(name): \(answer.status) \(answer.body.prefix(400))")
                #expect(!answer.body.contains("root:"), "\(name) leaked a file")
            }
            // A million parameters (about 100 MB) and a 5 MiB body of junk: 413 before parsing.
            let million = Self.informWithParameters(1_000_000)
            let tooMany = try await fetch("http://127.0.0.1:\(cwmpPort)/", method: "POST", body: million)
            #expect(tooMany.status == 413)
            let junk = try await fetch("http://127.0.0.1:\(cwmpPort)/", method: "POST", body: String(repeating: "<a>", count: 5 << 20 / 3))
            #expect(junk.status == 413)
            // Many parameters that fit the limit are read within bounded time.
            let many = try await fetch("http://127.0.0.1:\(cwmpPort)/", method: "POST", body: Self.informWithParameters(20_000))
            #expect(many.status == 200 || (400..<500).contains(many.status))

            // USP over WebSocket: each hostile record is dropped (session open) or closes the session
            // with 1003; none reaches the registry.
            for (name, bytes) in try Self.corpus(".bin") where name != "hostile-usp-replay.bin" {
                let code = try await Self.sendOverWebSocket(port: wsPort, eid: "os::00D09E-HOSTILE", frames: [bytes])
                #expect(code == nil || code == .unacceptableData || code == .normalClosure, "\(name): closed with \(String(describing: code))")
            }
            // Segmentation abuse: 2,000 segments that never end, in one session.
            let segment = try Data(contentsOf: Self.hostile.appendingPathComponent("hostile-usp-segment-begin.bin"))
            _ = try await Self.sendOverWebSocket(port: wsPort, eid: "os::00D09E-HOSTILE", frames: Array(repeating: segment, count: 2000), linger: .seconds(1))
            // A frame above the 1 MiB record limit: 1009. The server refuses it as soon as the header
            // announces the length, with most of the 2 MiB still unread, and lingers reading and
            // dropping the rest until the client's Close (RFC 6455 7.1.1), so that no reset
            // overtakes its Close frame: one attempt. The client waits up to 5 s for it before closing
            // itself (on a loaded machine 300 ms is not always enough to read the frame header).
            let oversized = try await Self.sendOverWebSocket(
                port: wsPort, eid: "os::00D09E-HOSTILE", frames: [Data(count: 2 << 20)], linger: .seconds(5))
            #expect(oversized == .messageTooLarge)
            // Replays of one Boot!: one device, not fifty.
            let replay = try Data(contentsOf: Self.hostile.appendingPathComponent("hostile-usp-replay.bin"))
            _ = try await Self.sendOverWebSocket(port: wsPort, eid: "os::00D09E-HOSTILE", frames: Array(repeating: replay, count: 50), linger: .seconds(1))
            #expect(try await server.registry.devices(matching: DeviceFilter(text: "HOSTILE"), page: Page()).count == 1)
            #expect(ContinuousClock.now - start < .seconds(120))

            // Meanwhile the good devices were served: the CPE's sessions and the agent's onboarding.
            #expect(try await USPControllerLiveTests.eventually(.seconds(30)) { await agent.subscriptionIDs().count == 2 })
            let agentDevice = try #require(try await server.registry.device(try DeviceIdentifier(parsing: "os::00D09E-GOODAGENT")))
            let read = try await server.operations.submit(.get(paths: [try PathExpression("Device.DeviceInfo.SoftwareVersion")]), to: agentDevice, actor: "test")
            #expect(try await server.operations.wait(forTask: read.task.id, timeout: .seconds(10)).state == .done)
            #expect(try await USPControllerLiveTests.eventually(.seconds(20)) {
                try await !server.registry.devices(matching: DeviceFilter(text: "GOOD0"), page: Page()).isEmpty
            })
            let cpe = try #require(try await server.registry.devices(matching: DeviceFilter(text: "GOOD0"), page: Page()).first)
            let informs = try await server.registry.events(deviceID: cpe.id, limit: 100).filter { $0.kind == "inform" }.count
            #expect(try await USPControllerLiveTests.eventually(.seconds(10)) {
                try await server.registry.events(deviceID: cpe.id, limit: 100).filter { $0.kind == "inform" }.count > informs
            }, "the CPE's periodic sessions continue")
            // Every refusal left a protocolError event.
            #expect(try await server.registry.events(deviceID: nil, limit: 500).filter { $0.kind == "protocolError" }.count >= 10)
        }
    }
}
