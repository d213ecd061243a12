import Foundation
import MTP
import MTPSTOMP
import NIOCore
import NIOPosix
import Testing

/// The STOMP broker Scripts/test starts (ActiveMQ), from TANDEM_TEST_STOMP (`host:port`). Without it a
/// live test is skipped on a developer's machine but fails under CI (CI=true), where the script must
/// have started one.
enum TestSTOMPBroker {
    static func address() -> (host: String, port: Int)? {
        let environment = ProcessInfo.processInfo.environment
        guard let value = environment["TANDEM_TEST_STOMP"], let colon = value.lastIndex(of: ":"),
            let port = Int(value[value.index(after: colon)...])
        else {
            if environment["CI"] == "true" {
                Issue.record("TANDEM_TEST_STOMP is not set: under CI, Scripts/test must start the STOMP broker and export it")
            }
            return nil
        }
        return (String(value[..<colon]), port)
    }

    /// The broker's STOMP-over-TLS listener (TANDEM_TEST_STOMP_TLS) and the PEM file of its self-signed
    /// certificate for localhost (TANDEM_TEST_STOMP_TLS_CA); under CI both must be set.
    static func tlsAddress() -> (host: String, port: Int, certificateFile: String)? {
        let environment = ProcessInfo.processInfo.environment
        guard let value = environment["TANDEM_TEST_STOMP_TLS"], let colon = value.lastIndex(of: ":"),
            let port = Int(value[value.index(after: colon)...]), let certificate = environment["TANDEM_TEST_STOMP_TLS_CA"]
        else {
            if environment["CI"] == "true" {
                Issue.record("TANDEM_TEST_STOMP_TLS or TANDEM_TEST_STOMP_TLS_CA is not set: under CI, Scripts/test must export them")
            }
            return nil
        }
        return (String(value[..<colon]), port, certificate)
    }

    /// The one broker account (TANDEM_TEST_STOMP_CREDENTIALS, `login:passcode`); anonymous access is
    /// allowed too, wrong credentials are refused with an ERROR frame.
    static func credentials() -> (login: String, passcode: String)? {
        guard let value = ProcessInfo.processInfo.environment["TANDEM_TEST_STOMP_CREDENTIALS"], let colon = value.firstIndex(of: ":") else {
            return nil
        }
        return (String(value[..<colon]), String(value[value.index(after: colon)...]))
    }

    /// A destination no other test (or earlier run against the same broker) uses.
    static func uniqueQueue(_ role: String) -> String {
        "/queue/tandem.test.\(role).\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// A configuration with fast timers for tests.
    static func configuration(host: String, port: Int, endpointID: String, destination: String) -> STOMPTransport.Configuration {
        var configuration = STOMPTransport.Configuration(host: host, port: port, endpointID: endpointID, destination: destination)
        configuration.heartBeat = .init(outgoing: .seconds(2), incoming: .seconds(2))
        configuration.handshakeTimeout = .seconds(5)
        configuration.receiptTimeout = .seconds(5)
        configuration.backoff = STOMPConnection.Backoff(initialInterval: .milliseconds(100), multiplier: 2000, maximumInterval: .seconds(1))
        configuration.tickInterval = .milliseconds(20)
        return configuration
    }
}

/// Collects a transport's events so a test can wait for one with a deadline.
actor EventRecorder {
    private(set) var events: [TransportEvent] = []
    private(set) var finished = false

    func consume(_ stream: AsyncStream<TransportEvent>) async {
        for await event in stream { events.append(event) }
        finished = true
    }

    var records: [InboundRecord] {
        events.compactMap { if case .record(let record) = $0 { record } else { nil } }
    }

    var linkUpCount: Int { events.filter { if case .linkUp = $0 { true } else { false } }.count }

    var linkDownReasons: [String] {
        events.compactMap { if case .linkDown(let reason) = $0 { reason } else { nil } }
    }

    /// Waits until `condition` holds, polling; records an issue and returns false on timeout.
    @discardableResult
    func wait(
        for what: String, timeout: Duration = .seconds(15), sourceLocation: SourceLocation = #_sourceLocation,
        until condition: @Sendable (isolated EventRecorder) -> Bool
    ) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !condition(self) {
            guard ContinuousClock.now < deadline else {
                Issue.record("timed out waiting for \(what); events: \(events.map(Self.describe))", sourceLocation: sourceLocation)
                return false
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    static func describe(_ event: TransportEvent) -> String {
        switch event {
        case .record(let record): "record(\(record.bytes.count) bytes from \(record.replyTo))"
        case .linkUp: "linkUp"
        case .linkDown(let reason): "linkDown(\(reason))"
        case .peerConnected(let address): "peerConnected(\(address))"
        case .peerDisconnected(let address): "peerDisconnected(\(address))"
        }
    }
}

/// Runs transports for the duration of `body`, each with its event recorder, and shuts them down
/// gracefully afterwards (also when `body` throws).
func withRunningTransports(
    _ configurations: [STOMPTransport.Configuration],
    _ body: ([STOMPTransport], [EventRecorder]) async throws -> Void
) async throws {
    let transports = try configurations.map { try STOMPTransport(configuration: $0) }
    let recorders = transports.map { _ in EventRecorder() }
    try await withThrowingTaskGroup(of: Void.self) { group in
        for (transport, recorder) in zip(transports, recorders) {
            group.addTask { try await transport.run() }
            group.addTask { await recorder.consume(transport.events) }
        }
        var failure: (any Error)?
        do {
            try await body(transports, recorders)
        } catch {
            failure = error
        }
        for transport in transports { transport.shutdownGracefully() }
        try await group.waitForAll()
        if let failure { throw failure }
    }
}

/// A bare STOMP client on the test's own codec, to put frames on the broker that `STOMPTransport`
/// would never send.
struct RawSTOMPClient {
    static func send(_ frames: [STOMPFrame], host: String, port: Int) async throws -> [STOMPFrame] {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(STOMPFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(STOMPFrameEncoder()))
                    return try NIOAsyncChannel<STOMPPacket, STOMPPacket>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var received: [STOMPFrame] = []
            var iterator = inbound.makeAsyncIterator()
            try await outbound.write(.frame(STOMPFrame(.stomp, headers: ["accept-version": "1.2", "host": host, "heart-beat": "0,0"])))
            func nextFrame() async throws -> STOMPFrame? {
                while let packet = try await iterator.next() {
                    if case .frame(let frame) = packet { return frame }
                }
                return nil
            }
            guard let connected = try await nextFrame(), connected.command == .connected else {
                throw STOMPError(.linkDown, "no CONNECTED from the broker")
            }
            for (index, frame) in frames.enumerated() {
                var frame = frame
                frame.headers.append("receipt", "raw-\(index)")
                try await outbound.write(.frame(frame))
                guard let answer = try await nextFrame() else { break }
                received.append(answer)
            }
            try await outbound.write(.frame(STOMPFrame(.disconnect)))
            return received
        }
    }
}
