import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// What the CWMP load clients saw, merged from every connection.
struct CWMPLoadTally: Sendable {
    var latencies = Samples()
    /// Storm: seconds from the storm's start until each device's session finished.
    var completions = Samples()
    var sessions = 0
    /// Deliberate overload answers (503 with Retry-After).
    var retryAfter503 = 0
    var errors = 0
    var firstErrors: [String] = []

    mutating func merge(_ other: CWMPLoadTally) {
        latencies.add(contentsOf: other.latencies)
        completions.add(contentsOf: other.completions)
        sessions += other.sessions
        retryAfter503 += other.retryAfter503
        errors += other.errors
        if firstErrors.count < 5 { firstErrors += other.firstErrors.prefix(5 - firstErrors.count) }
    }
}

/// A CWMP Inform of a simulated CPE with 20 parameters (TR-069 A.3.3.1), as a CPE sends it.
/// `UpTime` is written with ten digits, so that a driver can count it up in place from session
/// to session (``uptimeDigits(in:)``), as a real CPE's changes between its periodic Informs.
enum InformTemplate {
    static let uptimeWidth = 10
    private static let uptimeMarker = "<Name>Device.DeviceInfo.UpTime</Name><Value xsi:type=\"xsd:unsignedInt\">"

    /// Where the ten digits of `UpTime` are in an Inform built by ``xml(serial:events:uptime:)``.
    static func uptimeDigits(in body: ByteBuffer) -> Int? {
        let text = String(buffer: body)
        guard let marker = text.range(of: uptimeMarker) else { return nil }
        return body.readerIndex + text.utf8.distance(from: text.startIndex, to: marker.upperBound)
    }

    /// `value` as the ten digits of `UpTime` (leading zeros are valid `xsd:unsignedInt` text).
    static func uptimeText(_ value: Int) -> String {
        let digits = String(value % 4_000_000_000)
        return String(repeating: "0", count: uptimeWidth - digits.count) + digits
    }

    static func xml(serial: String, events: [String], uptime: Int) -> String {
        let parameters: [(String, String, String)] = [
            ("Device.RootDataModelVersion", "string", "2.15"),
            ("Device.DeviceInfo.Manufacturer", "string", "Tandem Bench"),
            ("Device.DeviceInfo.ManufacturerOUI", "string", "ACDE48"),
            ("Device.DeviceInfo.ProductClass", "string", "BenchGateway"),
            ("Device.DeviceInfo.SerialNumber", "string", serial),
            ("Device.DeviceInfo.ModelName", "string", "TBG-1"),
            ("Device.DeviceInfo.HardwareVersion", "string", "HW1.0"),
            ("Device.DeviceInfo.SoftwareVersion", "string", "1.0.0"),
            ("Device.DeviceInfo.ProvisioningCode", "string", ""),
            ("Device.DeviceInfo.UpTime", "unsignedInt", uptimeText(uptime)),
            ("Device.ManagementServer.ParameterKey", "string", ""),
            ("Device.ManagementServer.ConnectionRequestURL", "string", "http://127.0.0.1:9/cr/\(serial)"),
            ("Device.ManagementServer.PeriodicInformEnable", "boolean", "true"),
            ("Device.ManagementServer.PeriodicInformInterval", "unsignedInt", "86400"),
            ("Device.IP.Interface.1.IPv4Address.1.IPAddress", "string", "192.0.2.10"),
            ("Device.IP.Interface.1.Status", "string", "Up"),
            ("Device.WiFi.SSID.1.SSID", "string", "bench-\(serial)"),
            ("Device.WiFi.Radio.1.Channel", "unsignedInt", "6"),
            ("Device.Ethernet.Interface.1.Status", "string", "Up"),
            ("Device.Time.CurrentLocalTime", "dateTime", "2024-05-17T10:15:30Z"),
        ]
        let eventXML = events.map { "<EventStruct><EventCode>\($0)</EventCode><CommandKey></CommandKey></EventStruct>" }.joined()
        let parameterXML = parameters.map { name, type, value in
            "<ParameterValueStruct><Name>\(name)</Name><Value xsi:type=\"xsd:\(type)\">\(value)</Value></ParameterValueStruct>"
        }.joined(separator: "\n")
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" \
            xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" \
            xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:cwmp="urn:dslforum-org:cwmp-1-0">
            <SOAP-ENV:Header><cwmp:ID SOAP-ENV:mustUnderstand="1">\(uptime)</cwmp:ID></SOAP-ENV:Header>
            <SOAP-ENV:Body><cwmp:Inform>
            <DeviceId><Manufacturer>Tandem Bench</Manufacturer><OUI>ACDE48</OUI><ProductClass>BenchGateway</ProductClass>\
            <SerialNumber>\(serial)</SerialNumber></DeviceId>
            <Event SOAP-ENC:arrayType="cwmp:EventStruct[\(events.count)]">\(eventXML)</Event>
            <MaxEnvelopes>1</MaxEnvelopes><CurrentTime>2024-05-17T10:15:30Z</CurrentTime><RetryCount>0</RetryCount>
            <ParameterList SOAP-ENC:arrayType="cwmp:ParameterValueStruct[\(parameters.count)]">
            \(parameterXML)
            </ParameterList>
            </cwmp:Inform></SOAP-ENV:Body></SOAP-ENV:Envelope>
            """
    }
}

/// One connection of a simulated CPE: Inform → InformResponse (200), empty POST → 204 (TR-069
/// 3.7.1.5), over and over until `deadline`, or once (`deadline == nil`). A 503 waits Retry-After
/// seconds and sends the Inform again.
final class CWMPSessionDriver: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    enum Outcome: Sendable {
        case finished
        /// The connection closed before the device was done.
        case closed
    }

    private enum Stage { case inform, empty }

    private let inform: ByteBuffer
    /// Where the Inform's `UpTime` digits are: each session reports a later one.
    private let uptimeDigits: Int?
    private var uptime: Int
    private let host: String
    private let deadline: NIODeadline?
    let done: EventLoopPromise<Outcome>
    private let sink: NIOLockedValueBox<CWMPLoadTally>
    private var tally = CWMPLoadTally()
    private var stage = Stage.inform
    private var cookie: String?
    private var status: UInt = 0
    private var retryAfter: Int?
    private var started = NIODeadline.now()
    private var finished = false

    init(inform: ByteBuffer, host: String, deadline: NIODeadline?, done: EventLoopPromise<Outcome>, sink: NIOLockedValueBox<CWMPLoadTally>) {
        self.inform = inform
        self.uptimeDigits = InformTemplate.uptimeDigits(in: inform)
        self.uptime = Int.random(in: 0..<1_000_000)
        self.host = host
        self.deadline = deadline
        self.done = done
        self.sink = sink
    }

    func channelActive(context: ChannelHandlerContext) {
        startSession(context)
    }

    private func startSession(_ context: ChannelHandlerContext) {
        stage = .inform
        cookie = nil
        started = .now()
        guard let uptimeDigits else { return send(context, body: inform) }
        uptime += 1
        var body = inform
        body.setString(InformTemplate.uptimeText(uptime), at: uptimeDigits)
        send(context, body: body)
    }

    private func send(_ context: ChannelHandlerContext, body: ByteBuffer?) {
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/")
        head.headers.add(name: "Host", value: host)
        head.headers.add(name: "Content-Length", value: String(body?.readableBytes ?? 0))
        if body != nil {
            head.headers.add(name: "Content-Type", value: "text/xml; charset=utf-8")
            head.headers.add(name: "SOAPAction", value: "")
        }
        if let cookie { head.headers.add(name: "Cookie", value: cookie) }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if let body { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = head.status.code
            if let setCookie = head.headers["set-cookie"].first {
                cookie = setCookie.split(separator: ";").first.map(String.init)
            }
            retryAfter = head.headers["retry-after"].first.flatMap { Int($0) }
        case .body:
            break
        case .end:
            responseEnded(context)
        }
    }

    private func responseEnded(_ context: ChannelHandlerContext) {
        switch (stage, status) {
        case (.inform, 200):
            stage = .empty
            send(context, body: nil)
        case (.inform, 503) where retryAfter != nil:
            tally.retryAfter503 += 1
            let wait = TimeAmount.seconds(Int64(retryAfter ?? 1))
            context.eventLoop.assumeIsolated().scheduleTask(in: wait) { [self] in
                if context.channel.isActive { startSession(context) }
            }
        case (.empty, 204):
            tally.sessions += 1
            tally.latencies.add(Double((NIODeadline.now() - started).nanoseconds) / 1e6)
            if let deadline, NIODeadline.now() < deadline {
                startSession(context)
            } else {
                finish(context, .finished)
            }
        default:
            tally.errors += 1
            if tally.firstErrors.count < 3 { tally.firstErrors.append("\(stage == .inform ? "Inform" : "empty POST") answered HTTP \(status)") }
            finish(context, .finished)
        }
    }

    private func finish(_ context: ChannelHandlerContext?, _ outcome: Outcome) {
        guard !finished else { return }
        finished = true
        let tally = self.tally
        sink.withLockedValue { $0.merge(tally) }
        done.succeed(outcome)
        context?.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(nil, .closed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if tally.firstErrors.count < 3 { tally.firstErrors.append("\(error)") }
        tally.errors += 1
        finish(context, .finished)
    }
}

/// Drives simulated CPEs against an ACS URL (Tandem or the floor responder).
struct CWMPLoad {
    let host: String
    let port: Int
    let group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton

    /// `connections` CPEs (one device each, serials from `serialBase`) run sessions back to back
    /// for `duration`.
    func runSessions(connections: Int, duration: Duration, serialBase: Int) async throws -> CWMPLoadTally {
        let sink = NIOLockedValueBox(CWMPLoadTally())
        let deadline = NIODeadline.now() + .nanoseconds(Int64(duration.components.seconds) * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<connections {
                let serial = String(format: "BENCH%08d", serialBase + index)
                let inform = InformTemplate.xml(serial: serial, events: ["2 PERIODIC"], uptime: index)
                group.addTask { _ = try await connect(inform: inform, deadline: deadline, sink: sink) }
            }
            try await group.waitForAll()
        }
        return sink.withLockedValue { $0 }
    }

    /// `devices` CPEs boot at once: one BOOTSTRAP session each, honouring 503 Retry-After, reconnecting
    /// when the connection drops. Returns when every device finished its session (or gave up).
    func runStorm(devices: Int, serialBase: Int) async throws -> CWMPLoadTally {
        let sink = NIOLockedValueBox(CWMPLoadTally())
        let begin = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<devices {
                let serial = String(format: "STORM%08d", serialBase + index)
                let inform = InformTemplate.xml(serial: serial, events: ["0 BOOTSTRAP", "1 BOOT"], uptime: 1)
                group.addTask {
                    for attempt in 1...20 {
                        let outcome = try? await connect(inform: inform, deadline: nil, sink: sink)
                        if case .some(.finished) = outcome {
                            let seconds = (ContinuousClock.now - begin).seconds
                            sink.withLockedValue { $0.completions.add(seconds) }
                            return
                        }
                        // Connection refused or dropped: back off a little, as a CPE's retry would.
                        try await Task.sleep(for: .milliseconds(100 * attempt))
                    }
                    sink.withLockedValue {
                        $0.errors += 1
                        if $0.firstErrors.count < 5 { $0.firstErrors.append("\(serial): gave up after 20 connections") }
                    }
                }
            }
            try await group.waitForAll()
        }
        return sink.withLockedValue { $0 }
    }

    private func connect(inform: String, deadline: NIODeadline?, sink: NIOLockedValueBox<CWMPLoadTally>) async throws -> CWMPSessionDriver.Outcome {
        let loop = group.next()
        let done = loop.makePromise(of: CWMPSessionDriver.Outcome.self)
        let body = ByteBuffer(string: inform)
        let hostHeader = "\(host):\(port)"
        do {
            _ = try await ClientBootstrap(group: loop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connectTimeout(.seconds(30))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(
                            CWMPSessionDriver(inform: body, host: hostHeader, deadline: deadline, done: done, sink: sink))
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            done.succeed(.closed)
            throw error
        }
        return try await done.futureResult.get()
    }
}

/// The floor: a minimal HTTP responder (NIO's HTTP/1.1 framing, no SOAP parsing, no storage). A POST
/// with a body gets 200 with a fixed InformResponse and a session cookie; an empty POST gets 204.
final class FloorResponder: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let informResponse = ByteBuffer(string: """
        <?xml version="1.0" encoding="UTF-8"?>
        <soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:cwmp="urn:dslforum-org:cwmp-1-0">\
        <soap:Header><cwmp:ID soap:mustUnderstand="1">1</cwmp:ID></soap:Header>\
        <soap:Body><cwmp:InformResponse><MaxEnvelopes>1</MaxEnvelopes></cwmp:InformResponse></soap:Body></soap:Envelope>
        """)

    private var bodyBytes = 0
    private var keepAlive = true

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            bodyBytes = 0
            keepAlive = head.isKeepAlive
        case .body(let buffer):
            bodyBytes += buffer.readableBytes
        case .end:
            var head = HTTPResponseHead(version: .http1_1, status: bodyBytes > 0 ? .ok : .noContent)
            if bodyBytes > 0 {
                head.headers.add(name: "Content-Type", value: "text/xml; charset=utf-8")
                head.headers.add(name: "Content-Length", value: String(Self.informResponse.readableBytes))
                head.headers.add(name: "Set-Cookie", value: "session=floor; Path=/; HttpOnly")
            }
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            if bodyBytes > 0 { context.write(wrapOutboundOut(.body(.byteBuffer(Self.informResponse))), promise: nil) }
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            if !keepAlive { context.close(promise: nil) }
        }
    }

    static func serve(host: String, port: Int) async throws {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(FloorResponder())
                }
            }
            .bind(host: host, port: port).get()
        print("floor listening on \(host):\(channel.localAddress?.port ?? port)")
        try await channel.closeFuture.get()
    }
}
