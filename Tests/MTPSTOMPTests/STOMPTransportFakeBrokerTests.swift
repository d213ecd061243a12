import MTP
import MTPSTOMP
import NIOCore
import Testing

/// `STOMPTransport` against scripted servers: the frames it puts on the wire, as a broker parses them,
/// and what it does with a broker that misbehaves.
@Suite(.timeLimit(.minutes(1)))
struct STOMPTransportFakeBrokerTests {
    @Test func framesOnTheWireFollowTheUSPBinding() async throws {
        let log = FrameLog()
        try await FakeBroker.withFakeBroker(script: { connection in
            var frames = connection.inbound.makeAsyncIterator()
            guard let stomp = try await connection.nextFrame(&frames) else { return }
            log.append(stomp)
            // R-STOMP.6: the broker assigns the destination.
            try await connection.write(
                STOMPFrame(.connected, headers: ["version": "1.2", "heart-beat": "0,0", "subscribe-dest": "/queue/assigned.by.broker"]))
            guard let subscribe = try await connection.nextFrame(&frames) else { return }
            log.append(subscribe)
            try await connection.write(STOMPFrame(.receipt, headers: ["receipt-id": subscribe.headers["receipt"] ?? ""]))
            try await connection.write(
                STOMPFrame(
                    .message,
                    headers: [
                        "destination": "/queue/assigned.by.broker", "message-id": "m:1", "subscription": subscribe.headers["id"] ?? "",
                        "content-type": "application/vnd.bbf.usp.msg", "reply-to-dest": "/queue/agent:7", "content-length": "3",
                    ], body: [0, 1, 2]))
            while let frame = try await connection.nextFrame(&frames) {
                log.append(frame)
                if let receipt = frame.headers["receipt"] {
                    try await connection.write(STOMPFrame(.receipt, headers: ["receipt-id": receipt]))
                }
                if frame.command == .disconnect { return }
            }
        }) { port in
            var configuration = TestSTOMPBroker.configuration(
                host: "127.0.0.1", port: port, endpointID: "self::tandem:ctrl", destination: "/queue/configured")
            configuration.login = "ctrl"
            configuration.passcode = "p:w\\d"
            configuration.virtualHost = "usp-vhost"
            try await withRunningTransports([configuration]) { transports, recorders in
                await recorders[0].wait(for: "the record") { $0.records.count == 1 }
                let record = try #require(await recorders[0].records.first)
                #expect(record.bytes == [0, 1, 2])
                #expect(record.replyTo == MTPAddress(transport: "stomp", destination: "/queue/agent:7"))
                try await transports[0].send([5, 0, 6], to: record.replyTo)
            }
        }
        let frames = log.all
        try #require(frames.count == 4)
        // R-STOMP.2/3/4/5/8.
        #expect(frames[0].command == .stomp)
        #expect(frames[0].headers["accept-version"] == "1.2")
        #expect(frames[0].headers["host"] == "usp-vhost")
        #expect(frames[0].headers["login"] == "ctrl")
        #expect(frames[0].headers["passcode"] == "p:w\\d")
        #expect(frames[0].headers["heart-beat"] == "2000,2000")
        #expect(frames[0].headers["endpoint-id"] == "self::tandem:ctrl")
        // R-STOMP.12–14/17: the broker's destination, ack:auto, with a receipt.
        #expect(frames[1].command == .subscribe)
        #expect(frames[1].headers["destination"] == "/queue/assigned.by.broker")
        #expect(frames[1].headers["ack"] == "auto")
        #expect(frames[1].headers["id"] != nil && frames[1].headers["receipt"] != nil)
        // R-STOMP.18–23: SEND to the reply-to-dest, replies coming back to the assigned destination.
        #expect(frames[2].command == .send)
        #expect(frames[2].headers["destination"] == "/queue/agent:7")
        #expect(frames[2].headers["content-type"] == "application/vnd.bbf.usp.msg")
        #expect(frames[2].headers["reply-to-dest"] == "/queue/assigned.by.broker")
        #expect(frames[2].headers["content-length"] == "3")
        #expect(frames[2].body == [5, 0, 6])
        // R-STOMP.28: DISCONNECT with a receipt on shutdown.
        #expect(frames[3].command == .disconnect)
        #expect(frames[3].headers["receipt"] != nil)
    }

    @Test func malformedBytesFromTheBrokerCloseTheConnectionAndItReconnects() async throws {
        let server = try await CannedReplyServer(reply: Array("CONNECTED\nversion:1.2\n\n\0GARBAGE\n\n\0".utf8))
        let configuration = TestSTOMPBroker.configuration(host: "127.0.0.1", port: server.port, endpointID: "self::x", destination: "/queue/x")
        try await withRunningTransports([configuration]) { _, recorders in
            await recorders[0].wait(for: "two connection attempts") { _ in server.connectionCount >= 2 }
            #expect(await recorders[0].linkUpCount == 0)
        }
        await server.close()
    }

    @Test func aBrokerThatNeverAnswersTimesOutAndIsRetried() async throws {
        let server = try await CannedReplyServer(reply: [])
        var configuration = TestSTOMPBroker.configuration(host: "127.0.0.1", port: server.port, endpointID: "self::x", destination: "/queue/x")
        configuration.handshakeTimeout = .milliseconds(200)
        try await withRunningTransports([configuration]) { _, recorders in
            await recorders[0].wait(for: "two connection attempts") { _ in server.connectionCount >= 2 }
            #expect(await recorders[0].linkUpCount == 0)
        }
        await server.close()
    }
}
