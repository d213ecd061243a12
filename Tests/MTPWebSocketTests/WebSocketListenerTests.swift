import HTTPTypes
import HummingbirdWSClient
import HummingbirdWebSocket
import MTP
import MTPWebSocket
import NIOCore
import NIOWebSocket
import ServiceLifecycle
import Testing

/// The controller's WebSocket listener, live on 127.0.0.1 with real clients.
@Suite("WebSocket MTP listener", .serialized, .timeLimit(.minutes(2)))
struct WebSocketListenerTests {
    // MARK: Lifecycle

    @Test("reports the bound port for port 0; cancellation stops run() and finishes the events")
    func boundPortAndCancellation() async throws {
        let reported = Box<Int?>(nil)
        let transport = WebSocketTransport(configuration: .test(), logger: testLogger) { host, port in
            #expect(host == "127.0.0.1")
            reported.value = port
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await transport.run() }
            let port = try await transport.listeningPort()
            #expect(port > 0)
            let head = try await rawHTTP(port: port, "GET /usp HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(statusCode(head) == 426)
            #expect(reported.value == port)
            group.cancelAll()
            _ = try? await group.next()
        }
        var events: [TransportEvent] = []
        for await event in transport.events { events.append(event) }
        #expect(events.count == 1)
        await #expect(throws: WebSocketTransportError(.shuttingDown)) {
            try await transport.listeningPort()
        }
        await #expect(throws: WebSocketTransportError(.shuttingDown)) {
            try await transport.connect(url: "ws://127.0.0.1:1/agent", agentEndpointID: "os::agent")
        }
    }

    // MARK: Handshake

    @Test("echoes Sec-WebSocket-Protocol: v1.usp (R-WS.11) and reports the peer with its eid")
    func subprotocolEchoed() async throws {
        try await withTransport { running in
            let head = try await rawHTTP(port: running.port, upgradeRequest(target: "/usp?eid=os::00256D-0001"))
            #expect(statusCode(head) == 101)
            #expect(headerValues("Sec-WebSocket-Protocol", in: head) == ["v1.usp"])
            // No bbf-usp-protocol offered, none answered.
            #expect(headerValues("Sec-WebSocket-Extensions", in: head).isEmpty)
            let address = try await running.log.connectedAddress()
            #expect(address.transport == "websocket")
            #expect(address.endpointID == "os::00256D-0001")
            #expect(!address.destination.isEmpty)
            try await running.log.waitUntil { $0.linkUps == 1 }
        }
    }

    @Test("picks v1.usp out of a list of offered subprotocols")
    func subprotocolInList() async throws {
        try await withTransport { running in
            let head = try await rawHTTP(
                port: running.port,
                upgradeRequest(target: "/usp?eid=a", extraHeaders: ["Sec-WebSocket-Protocol: v2.other, v1.usp"]))
            #expect(statusCode(head) == 101)
            #expect(headerValues("Sec-WebSocket-Protocol", in: head) == ["v1.usp"])
        }
    }

    @Test("refuses a client that does not offer v1.usp (R-WS.12a)")
    func missingSubprotocolRefused() async throws {
        try await withTransport { running in
            let head = try await rawHTTP(port: running.port, upgradeRequest(target: "/usp?eid=a", extraHeaders: []))
            #expect(statusCode(head) == 400)
            let other = try await rawHTTP(
                port: running.port, upgradeRequest(target: "/usp?eid=a", extraHeaders: ["Sec-WebSocket-Protocol: v1.other"]))
            #expect(statusCode(other) == 400)
            // The library client fails the upgrade too.
            await #expect(throws: WebSocketClientError.webSocketUpgradeFailed) {
                try await WebSocketClient.connect(
                    url: running.url(), configuration: clientConfiguration(subprotocol: false), logger: testLogger
                ) { _, _, _ in }
            }
            #expect(await running.log.connected.isEmpty)
        }
    }

    @Test("upgrades only on the configured path")
    func wrongPathRefused() async throws {
        try await withTransport { running in
            let upgrade = try await rawHTTP(port: running.port, upgradeRequest(target: "/other?eid=a"))
            #expect(statusCode(upgrade) == 400)
            let plainOther = try await rawHTTP(port: running.port, "GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(statusCode(plainOther) == 404)
            let plainUSP = try await rawHTTP(port: running.port, "GET /usp HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(statusCode(plainUSP) == 426)
            await #expect(throws: WebSocketClientError.webSocketUpgradeFailed) {
                try await running.client(path: "/usp/extra") { _, _, _ in }
            }
            #expect(await running.log.connected.isEmpty)
        }
    }

    @Test("decodes a percent-encoded eid, %25 included (R-WS.10b, R-WS.10c)")
    func endpointIDPercentDecoded() async throws {
        try await withTransport { running in
            // `proto::dev%41 b&c` with `%` as %25, space as %20, `&` as %26; other query data around it.
            try await WebSocketClient.connect(
                url: "ws://127.0.0.1:\(running.port)/usp?v=2&eid=proto%3A%3Adev%2541%20b%26c&x=1",
                configuration: clientConfiguration(),
                logger: testLogger
            ) { _, _, _ in }
            let address = try await running.log.connectedAddress()
            #expect(address.endpointID == "proto::dev%41 b&c")
        }
    }

    @Test("refuses a malformed eid; without any eid the peer is still accepted")
    func malformedOrMissingEndpointID() async throws {
        try await withTransport { running in
            let malformed = try await rawHTTP(port: running.port, upgradeRequest(target: "/usp?eid=bad%2"))
            #expect(statusCode(malformed) == 400)
            let missing = try await rawHTTP(port: running.port, upgradeRequest(target: "/usp"))
            #expect(statusCode(missing) == 101)
            let address = try await running.log.connectedAddress()
            #expect(address.endpointID == nil)
        }
    }

    @Test("requireEndpointID refuses peers without an eid")
    func endpointIDRequired() async throws {
        var configuration = WebSocketTransportConfiguration.test()
        configuration.listener?.requireEndpointID = true
        try await withTransport(configuration) { running in
            let missing = try await rawHTTP(port: running.port, upgradeRequest(target: "/usp"))
            #expect(statusCode(missing) == 400)
        }
    }

    @Test("takes the eid from a bbf-usp-protocol extension and answers with the controller's (R-WS.11a)")
    func extensionEndpointID() async throws {
        try await withTransport { running in
            let head = try await rawHTTP(
                port: running.port,
                upgradeRequest(
                    target: "/usp",
                    extraHeaders: ["Sec-WebSocket-Protocol: v1.usp", "Sec-WebSocket-Extensions: bbf-usp-protocol; eid=\"os::legacy-1\""]))
            #expect(statusCode(head) == 101)
            #expect(headerValues("Sec-WebSocket-Extensions", in: head) == ["bbf-usp-protocol; eid=\"self::controller%x\""])
            let address = try await running.log.connectedAddress()
            #expect(address.endpointID == "os::legacy-1")
        }
    }

    // MARK: Records

    @Test("carries binary records both ways; replies go to the address the record came from")
    func binaryRecordsBothWays() async throws {
        try await withTransport { running in
            let received = Box<[[UInt8]]>([])
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await running.client() {
                        inbound, outbound, _ in
                        try await outbound.write(.binary(ByteBuffer(bytes: [0x0A, 0x03, 0x31, 0x2E, 0x33])))
                        for try await message in inbound.messages(maxSize: 1 << 16) {
                            guard case .binary(let buffer) = message else { continue }
                            received.mutate { $0.append(Array(buffer.readableBytesView)) }
                            if received.value.count == 2 { break }
                        }
                    }
                }
                let address = try await running.log.connectedAddress()
                try await running.log.waitUntil { $0.records.count == 1 }
                let record = try #require(await running.log.records.first)
                #expect(record.bytes == [0x0A, 0x03, 0x31, 0x2E, 0x33])
                #expect(record.replyTo == address)
                try await running.transport.send([1, 2, 3], to: record.replyTo)
                // By endpoint ID alone, as after a restart of the engine's session table.
                try await running.transport.send(
                    [4, 5], to: MTPAddress(transport: "websocket", destination: "", endpointID: "proto::agent-1"))
                try await group.waitForAll()
            }
            #expect(received.value == [[1, 2, 3], [4, 5]])
            try await running.log.waitUntil { $0.disconnected.count == 1 }
            #expect(running.transport.sessionCount == 0)
        }
    }

    @Test("reassembles a fragmented record (R-WS.14b)")
    func fragmentedRecord() async throws {
        try await withTransport { running in
            try await running.client() {
                _, outbound, _ in
                try await outbound.withBinaryMessageWriter { write in
                    try await write(ByteBuffer(bytes: [1, 2]))
                    try await write(ByteBuffer(bytes: [3]))
                    try await write(ByteBuffer(bytes: [4, 5, 6]))
                }
            }
            try await running.log.waitUntil { $0.records.count == 1 }
            #expect(await running.log.records.first?.bytes == [1, 2, 3, 4, 5, 6])
        }
    }

    @Test("closes with 1003 on a text frame (R-WS.14, R-WS.16)")
    func textFrameCloses1003() async throws {
        try await withTransport { running in
            let close = try await running.client() {
                inbound, outbound, _ in
                try await outbound.write(.text("not a record"))
                for try await _ in inbound {}
            }
            #expect(close?.closeCode == .unacceptableData)
            try await running.log.waitUntil { $0.disconnected.count == 1 }
            #expect(await running.log.records.isEmpty)
        }
    }

    @Test("closes with 1003 on an empty message")
    func emptyMessageCloses1003() async throws {
        try await withTransport { running in
            let close = try await running.client() {
                inbound, outbound, _ in
                try await outbound.write(.binary(ByteBuffer()))
                for try await _ in inbound {}
            }
            #expect(close?.closeCode == .unacceptableData)
        }
    }

    @Test("closes with the code the engine asks for: 1003 for an unparseable record (R-WS.16)")
    func engineRequestedClose() async throws {
        try await withTransport { running in
            try await withThrowingTaskGroup(of: WebSocketCloseFrame?.self) { group in
                group.addTask {
                    try await running.client() {
                        inbound, outbound, _ in
                        try await outbound.write(.binary(ByteBuffer(bytes: [0xFF, 0xFF])))
                        for try await _ in inbound {}
                    }
                }
                try await running.log.waitUntil { $0.records.count == 1 }
                let record = try #require(await running.log.records.first)
                await running.transport.close(record.replyTo, code: .unsupportedData, reason: "record could not be parsed")
                let close = try await group.next() ?? nil
                #expect(close?.closeCode == .unacceptableData)
                #expect(close?.reason == "record could not be parsed")
            }
            try await running.log.waitUntil { $0.disconnected.count == 1 }
        }
    }

    @Test("refuses a frame larger than the record limit with 1009, whole or fragmented")
    func oversizedFrameRefused() async throws {
        try await withTransport(.test(maxRecordSize: 1024)) { running in
            let whole = try await running.client() {
                inbound, outbound, _ in
                try await outbound.write(.binary(ByteBuffer(repeating: 7, count: 2000)))
                for try await _ in inbound {}
            }
            #expect(whole?.closeCode == .messageTooLarge)
            let fragmented = try await running.client(eid: "proto::agent-2") { inbound, outbound, _ in
                try await outbound.withBinaryMessageWriter { write in
                    try await write(ByteBuffer(repeating: 1, count: 800))
                    try await write(ByteBuffer(repeating: 2, count: 800))
                }
                for try await _ in inbound {}
            }
            #expect(fragmented?.closeCode == .messageTooLarge)
            #expect(await running.log.records.isEmpty)
            // Nor does the controller send more than the limit.
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await running.client(eid: "proto::agent-3") { inbound, _, _ in for try await _ in inbound {} }
                }
                try await running.log.waitUntil { $0.connected.count == 3 }
                let address = await running.log.connected[2]
                await #expect(throws: WebSocketTransportError(.recordTooLarge(size: 2000, limit: 1024))) {
                    try await running.transport.send(Array(repeating: 0, count: 2000), to: address)
                }
                await running.transport.close(address, code: .normalClosure)
                try await group.waitForAll()
            }
        }
    }

    @Test("delivers the 1009 Close to a client still sending an oversized frame (lingering close, RFC 6455 7.1.1)")
    func oversizedFrameLingeringClose() async throws {
        try await withTransport(.test(maxRecordSize: 1024)) { running in
            // Each attempt must see the code: the server reads and drops the 2 MiB it refused
            // instead of resetting the connection with them unread.
            for index in 0..<5 {
                let close = try await running.client(eid: "proto::big-\(index)") { inbound, outbound, _ in
                    try await outbound.write(.binary(ByteBuffer(repeating: 7, count: 2 << 20)))
                    for try await _ in inbound {}
                }
                #expect(close?.closeCode == .messageTooLarge, "attempt \(index)")
            }
            #expect(await running.log.records.isEmpty)
        }
    }

    @Test("answers a ping with a pong carrying its data (RFC 6455 5.5.3, R-WS.13)")
    func pingAnswered() async throws {
        try await withTransport { running in
            let pong = try await RawWebSocket.connect(port: running.port, upgradeRequest(target: "/usp?eid=os::pinger")) { socket in
                #expect(statusCode(socket.head) == 101)
                try await socket.send(opcode: 0x9, payload: [1, 2, 3])
                return try await socket.readFrame()
            }
            #expect(pong?.opcode == 0xA)
            #expect(pong?.payload == [1, 2, 3])
        }
    }

    @Test("echoes a client's Close and closes the connection (RFC 6455 5.5.1)")
    func clientCloseEchoed() async throws {
        try await withTransport { running in
            let (echo, end) = try await RawWebSocket.connect(port: running.port, upgradeRequest(target: "/usp?eid=os::closer")) { socket in
                try await socket.send(opcode: 0x8, payload: [0x03, 0xE8] + Array("bye".utf8))
                let echo = try await socket.readFrame()
                return (echo, try await socket.readFrame())
            }
            #expect(echo?.opcode == 0x8)
            #expect(echo.flatMap { RawWebSocket.closeCode($0.payload) } == 1000)
            #expect(end == nil)
            try await running.log.waitUntil { $0.disconnected.count == 1 }
        }
    }

    @Test("closes with 1002 on an unmasked frame (RFC 6455 5.1) and on a continuation without a message")
    func protocolErrors() async throws {
        try await withTransport { running in
            let unmasked = try await RawWebSocket.connect(port: running.port, upgradeRequest(target: "/usp?eid=os::unmasked")) { socket in
                try await socket.send(opcode: 0x2, payload: [1, 2, 3], masked: false)
                return try await socket.readFrame()
            }
            #expect(unmasked?.opcode == 0x8)
            #expect(unmasked.flatMap { RawWebSocket.closeCode($0.payload) } == 1002)
            let orphan = try await RawWebSocket.connect(port: running.port, upgradeRequest(target: "/usp?eid=os::orphan")) { socket in
                try await socket.send(opcode: 0x0, payload: [1, 2, 3])
                return try await socket.readFrame()
            }
            #expect(orphan.flatMap { RawWebSocket.closeCode($0.payload) } == 1002)
            #expect(await running.log.records.isEmpty)
        }
    }

    @Test("answers a plain GET on the USP path with 426, Upgrade: websocket and v1.usp")
    func plainGetUpgradeRequired() async throws {
        try await withTransport { running in
            let head = try await rawHTTP(port: running.port, "GET /usp?eid=x HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(statusCode(head) == 426)
            #expect(headerValues("Upgrade", in: head) == ["websocket"])
            #expect(headerValues("Sec-WebSocket-Protocol", in: head) == ["v1.usp"])
        }
    }

    @Test("at maxConnections the next connection waits until one closes")
    func connectionLimit() async throws {
        var configuration = WebSocketTransportConfiguration.test()
        configuration.listener?.maxConnections = 2
        try await withTransport(configuration) { running in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<2 {
                    group.addTask {
                        try await running.client(eid: "os::capped-\(index)") { inbound, _, _ in for try await _ in inbound {} }
                    }
                }
                let first = try await running.log.connectedAddress(0)
                _ = try await running.log.connectedAddress(1)
                let third = Box<Int?>(nil)
                group.addTask {
                    let head = try await rawHTTP(port: running.port, upgradeRequest(target: "/usp?eid=os::capped-2"))
                    third.value = statusCode(head)
                }
                try await Task.sleep(for: .milliseconds(500))
                #expect(third.value == nil, "the third connection was served at the limit")
                #expect(await running.log.connected.count == 2)
                await running.transport.close(first, code: .normalClosure)
                try await running.log.waitUntil { $0.connected.count == 3 }
                for address in await running.log.connected.dropFirst() {
                    await running.transport.close(address, code: .normalClosure)
                }
                try await group.waitForAll()
                #expect(third.value == 101)
            }
        }
    }

    // MARK: Sessions

    @Test("reports peerConnected and peerDisconnected with the same address")
    func peerEvents() async throws {
        try await withTransport { running in
            try await running.client(eid: "os::peer") {
                _, _, _ in
            }
            try await running.log.waitUntil { $0.disconnected.count == 1 }
            let connected = await running.log.connected
            let disconnected = await running.log.disconnected
            #expect(connected.count == 1)
            #expect(connected == disconnected)
            #expect(connected.first?.endpointID == "os::peer")
            #expect(running.transport.sessionCount == 0)
        }
    }

    @Test("fails clearly when sending to a session that is gone")
    func sendToGonePeer() async throws {
        try await withTransport { running in
            try await running.client() { _, _, _ in }
            try await running.log.waitUntil { $0.disconnected.count == 1 }
            let address = try #require(await running.log.disconnected.first)
            await #expect(throws: WebSocketTransportError(.noSuchPeer(address))) {
                try await running.transport.send([1], to: address)
            }
            let byEndpoint = MTPAddress(transport: "websocket", destination: "", endpointID: "proto::nobody")
            await #expect(throws: WebSocketTransportError(.noSuchPeer(byEndpoint))) {
                try await running.transport.send([1], to: byEndpoint)
            }
        }
    }

    @Test("a second session from the same endpoint replaces the first, which is closed with 1008 (R-WS.4)")
    func duplicateEndpointReplacesOld() async throws {
        try await withTransport { running in
            try await withThrowingTaskGroup(of: WebSocketCloseFrame?.self) { group in
                group.addTask {
                    try await running.client(eid: "os::twin") {
                        inbound, _, _ in for try await _ in inbound {}
                    }
                }
                let first = try await running.log.connectedAddress(0)
                group.addTask {
                    try await running.client(eid: "os::twin") {
                        inbound, _, _ in for try await _ in inbound {}
                    }
                }
                // The first client to finish is the replaced one.
                let firstClose = try await group.next() ?? nil
                #expect(firstClose?.closeCode == .policyViolation)
                let second = try await running.log.connectedAddress(1)
                #expect(second.endpointID == "os::twin")
                #expect(second != first)
                // The old session's disconnect is reported before the new session's connect.
                let order = await running.log.events.compactMap { event -> String? in
                    switch event {
                    case .peerConnected(let address): "+\(address.destination)"
                    case .peerDisconnected(let address): "-\(address.destination)"
                    default: nil
                    }
                }
                #expect(Array(order.prefix(3)) == ["+\(first.destination)", "-\(first.destination)", "+\(second.destination)"])
                #expect(running.transport.sessionCount == 1)
                await running.transport.close(second, code: .normalClosure)
                try await group.waitForAll()
            }
        }
    }

    @Test("with .rejectNew a second session from the same endpoint is refused")
    func duplicateEndpointRejected() async throws {
        try await withTransport(.test(duplicateSessionPolicy: .rejectNew)) { running in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await running.client(eid: "os::twin") {
                        inbound, _, _ in for try await _ in inbound {}
                    }
                }
                let first = try await running.log.connectedAddress(0)
                let head = try await rawHTTP(port: running.port, upgradeRequest(target: "/usp?eid=os::twin"))
                #expect(statusCode(head) == 400)
                #expect(await running.log.connected == [first])
                await running.transport.close(first, code: .normalClosure)
                try await group.waitForAll()
            }
        }
    }

    @Test("pings detect a peer that stopped answering and close it")
    func pingTimeout() async throws {
        try await withTransport(.test(pingInterval: .milliseconds(200))) { running in
            // A raw client that completes the handshake, keeps the socket open and never answers.
            let head = try await rawHTTP(port: running.port, upgradeRequest(target: "/usp?eid=os::silent")) { _ in
                try await running.log.waitUntil(timeout: .seconds(5)) { $0.disconnected.count == 1 }
            }
            #expect(statusCode(head) == 101)
        }
    }

    @Test("graceful shutdown closes every session with 1001")
    func gracefulShutdownCloses1001() async throws {
        let closes = Box<[WebSocketCloseFrame?]>([])
        try await withTransport { running in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<3 {
                    group.addTask {
                        let close = try await running.client(eid: "os::shutdown-\(index)") { inbound, _, _ in
                            for try await _ in inbound {}
                        }
                        closes.mutate { $0.append(close) }
                    }
                }
                try await running.log.waitUntil { $0.connected.count == 3 }
                await running.group.triggerGracefulShutdown()
                try await group.waitForAll()
            }
            try await running.log.waitUntil { $0.disconnected.count == 3 }
            // New agents are refused while shutting down.
            await #expect(throws: (any Error).self) {
                try await running.client(eid: "os::late") {
                    _, _, _ in
                }
            }
        }
        #expect(closes.value.count == 3)
        #expect(closes.value.allSatisfy { $0?.closeCode == .goingAway })
    }

    @Test("holds 200 idle sessions and sends a record to each")
    func manyIdleSessions() async throws {
        let count = 200
        try await withTransport { running in
            let received = Box<[String: [UInt8]]>([:])
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<count {
                    group.addTask {
                        let eid = "os::idle-\(index)"
                        try await running.client(eid: eid) {
                            inbound, _, _ in
                            for try await message in inbound.messages(maxSize: 1024) {
                                if case .binary(let buffer) = message {
                                    received.mutate { $0[eid] = Array(buffer.readableBytesView) }
                                    return
                                }
                            }
                        }
                    }
                }
                try await running.log.waitUntil(timeout: .seconds(60)) { $0.connected.count == count }
                #expect(running.transport.sessionCount == count)
                let addresses = await running.log.connected
                try await withThrowingTaskGroup(of: Void.self) { sends in
                    for address in addresses {
                        sends.addTask {
                            try await running.transport.send(Array((address.endpointID ?? "").utf8), to: address)
                        }
                    }
                    try await sends.waitForAll()
                }
                try await group.waitForAll()
            }
            #expect(received.value.count == count)
            #expect(received.value.allSatisfy { eid, bytes in Array(eid.utf8) == bytes })
            try await running.log.waitUntil(timeout: .seconds(30)) { $0.disconnected.count == count }
        }
    }
}
