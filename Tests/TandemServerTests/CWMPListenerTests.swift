import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOSSL
import Registry
@testable import TandemServer
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The CWMP listener's HTTP/1.1 handling, over raw sockets on loopback: what a CPE's own HTTP stack
/// may do (pipelining, HTTP/1.0, `Connection: close`, oversized or unparsable requests).
@Suite struct CWMPListenerTests {
    static let inform = try! String(contentsOf: repositoryRoot.appendingPathComponent("Fixtures/cwmp/cpe-inform-boot.xml"), encoding: .utf8)

    /// Runs a CWMP listener (open authentication) and calls `body` with its port.
    func withListener(_ adjust: (inout TandemConfiguration) -> Void = { _ in }, _ body: (Int) async throws -> Void) async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        var configuration = TandemConfiguration()
        configuration.dataDirectory = directory
        configuration.cwmp.listen = ListenAddress(host: "127.0.0.1", port: 0)
        configuration.cwmp.authMode = .open
        configuration.usp.webSocketListen = nil
        adjust(&configuration)
        let server = try TandemServer(configuration: configuration, logger: Logger(label: "cwmp-listener"))
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.makeCWMPApplication { continuation.yield($0.localAddress?.port ?? 0) }.runService() }
            defer { group.cancelAll() }
            var iterator = ports.makeAsyncIterator()
            try await body(try #require(await iterator.next()))
        }
    }

    /// Sends `request` on a fresh connection and reads until the server closes it or `timeout`
    /// passes; returns what was read and whether the server closed. The blocking socket calls run
    /// on a thread of their own, not on one the server's tasks need.
    /// With `halfClose`, the client shuts its sending side after the request, as a CPE may.
    static func exchange(port: Int, _ request: String, timeout: Int = 5, halfClose: Bool = false) async throws -> (text: String, closed: Bool) {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try blockingExchange(port: port, request, timeout: timeout, halfClose: halfClose) }) }.start()
        }
    }

    static func blockingExchange(port: Int, _ request: String, timeout: Int, halfClose: Bool) throws -> (text: String, closed: Bool) {
        guard let fd = connectLoopback(port: port) else { throw TestFailure("cannot connect to port \(port)") }
        defer { close(fd) }
        var wait = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        let bytes = Array(request.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestFailure("send() failed") }
            sent += n
        }
        if halfClose { shutdown(fd, Int32(SHUT_WR)) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { received += buffer[..<n]; continue }
            return (String(decoding: received, as: UTF8.self), n == 0)
        }
    }

    /// The status codes of the HTTP/1.1 answers in `text`, in order.
    static func statuses(_ text: String) -> [String] {
        text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { String($0.prefix(3)) }
    }

    static func post(_ body: String, headers: [String] = []) -> String {
        (["POST / HTTP/1.1", "Host: acs", "Content-Type: text/xml", "Content-Length: \(body.utf8.count)"] + headers)
            .joined(separator: "\r\n") + "\r\n\r\n" + body
    }

    @Test func pipelinedRequestsAreAnsweredInOrderAndConnectionCloseIsHonoured() async throws {
        try await withListener { port in
            // Both requests in one write: the second waits for the first's answer.
            let (text, closed) = try await Self.exchange(port: port, Self.post(Self.inform) + "GET /status HTTP/1.1\r\nHost: acs\r\nConnection: close\r\n\r\n")
            #expect(closed, "Connection: close must end the connection after the answer")
            let answers = text.components(separatedBy: "HTTP/1.1 ").dropFirst()
            #expect(answers.count == 2)
            let first = try #require(answers.first)
            #expect(first.hasPrefix("200 OK"))
            #expect(first.contains("InformResponse"))
            #expect(first.lowercased().contains("set-cookie: session="))
            #expect(first.lowercased().contains("content-type: text/xml; charset=utf-8"))
            let second = try #require(answers.last)
            #expect(second.hasPrefix("405 Method Not Allowed"))
            #expect(second.lowercased().contains("allow: post"))
            #expect(second.lowercased().contains("connection: close"))
        }
    }

    @Test func unparsableHTTPAfterAPipelinedRequestWaitsForItsAnswer() async throws {
        try await withListener { port in
            let (text, closed) = try await Self.exchange(port: port, Self.post(Self.inform) + "THIS IS NOT HTTP\r\n\r\n")
            #expect(closed)
            let answers = Array(text.components(separatedBy: "HTTP/1.1 ").dropFirst())
            #expect(answers.count == 2)
            #expect(answers.first?.hasPrefix("200 OK") == true)
            #expect(answers.first?.contains("InformResponse") == true)
            #expect(answers.last?.hasPrefix("400 Bad Request") == true)
            #expect(answers.last?.lowercased().contains("connection: close") == true)
        }
    }

    @Test func everyRequestPipelinedBeforeAHalfCloseIsAnsweredInOrder() async throws {
        try await withListener { port in
            let get = "GET /second HTTP/1.1\r\nHost: acs\r\n\r\n"
            let (text, closed) = try await Self.exchange(
                port: port, Self.post(Self.inform) + get + Self.post(Self.inform) + get, halfClose: true)
            #expect(closed)
            #expect(Self.statuses(text) == ["200", "405", "200", "405"])
            #expect(text.components(separatedBy: "</cwmp:InformResponse>").count - 1 == 2)
        }
    }

    /// Passes reads on and counts them.
    final class ReadCounter: ChannelOutboundHandler {
        typealias OutboundIn = Any
        var reads = 0
        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
    }

    /// A CPE never pipelines: reading goes on while its request is answered, so the socket's read
    /// interest is not switched off and on for every request. Reads stop only while a pipelined
    /// request is held, and resume once the answer before it is written.
    @Test func readsStopOnlyWhileAPipelinedRequestIsHeld() async throws {
        let (requests, continuation) = AsyncStream.makeStream(of: CWMPHTTPRequest.self)
        let counter = ReadCounter()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers(
            counter, CWMPHTTPHandler(maxBodyBytes: 1 << 20, serverName: "test", requests: continuation, logger: Logger(label: "test")))
        var received = requests.makeAsyncIterator()

        try channel.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: .POST, uri: "/")))
        try channel.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: "<first/>")))
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        let first = try #require(await received.next())
        #expect(first.method == .POST && String(buffer: first.body) == "<first/>")
        channel.read()
        #expect(counter.reads == 1, "a read while the first request is answered goes on to the socket")

        // Pipelined: held, and reads stop.
        try channel.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/second")))
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        channel.read()
        #expect(counter.reads == 1, "a read while a pipelined request is held waits")

        // The first answer goes out; then the second request is taken up and reads resume.
        try channel.writeOutbound(CWMPHTTPResponse(status: .ok, body: ByteBuffer(string: "one")))
        guard case .head(let head) = try channel.readOutbound(as: HTTPServerResponsePart.self) else {
            Issue.record("no answer head")
            return
        }
        #expect(head.status == .ok)
        #expect(counter.reads == 2)
        let second = try #require(await received.next())
        #expect(second.method == .GET)
        _ = try channel.finish()
    }

    @Test func aLongUnparsableTailAfterAPipelinedRequestStillGetsBothAnswers() async throws {
        try await withListener { port in
            // 51 KB: more than one socket read, so bytes reach the failed decoder after its error.
            let garbage = String(repeating: "THIS IS NOT HTTP ", count: 3_000)
            // The server closes with garbage unread, so the client may see a reset rather than an end.
            let (text, _) = try await Self.exchange(port: port, Self.post(Self.inform) + garbage)
            #expect(Self.statuses(text) == ["200", "400"])
            #expect(text.components(separatedBy: "HTTP/1.1 ").last?.lowercased().contains("connection: close") == true)
        }
    }

    /// A connected channel with NIO's HTTP/1.1 server codec and the handler, as the listener builds it.
    static func handlerChannel() throws -> (EmbeddedChannel, AsyncStream<CWMPHTTPRequest>.AsyncIterator) {
        let (requests, continuation) = AsyncStream.makeStream(of: CWMPHTTPRequest.self)
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
            withPipeliningAssistance: false, withErrorHandling: false, withOutboundHeaderValidation: false)
        try channel.pipeline.syncOperations.addHandler(
            CWMPHTTPHandler(maxBodyBytes: 1 << 20, serverName: "test", requests: continuation, logger: Logger(label: "test")))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return (channel, requests.makeAsyncIterator())
    }

    static func written(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let data = try channel.readOutbound(as: IOData.self) {
            if case .byteBuffer(let buffer) = data { text += String(buffer: buffer) }
        }
        return text
    }

    static let shortPost = "POST / HTTP/1.1\r\nHost: acs\r\nContent-Length: 3\r\n\r\none"

    @Test func bytesAfterAHeldParseErrorDoNotEndTheConnectionBeforeItsAnswers() async throws {
        var (channel, requests) = try Self.handlerChannel()
        try channel.writeInbound(ByteBuffer(string: Self.shortPost))
        _ = try #require(await requests.next())
        try channel.writeInbound(ByteBuffer(string: "THIS IS NOT HTTP\r\n\r\n"))
        // The failed decoder reports further bytes as another error.
        try channel.writeInbound(ByteBuffer(string: "more garbage"))
        #expect(channel.isActive, "closed before the answer in progress was written")
        try channel.writeOutbound(CWMPHTTPResponse(status: .ok, body: ByteBuffer(string: "one")))
        let text = try Self.written(channel)
        #expect(text.hasPrefix("HTTP/1.1 200 OK"))
        #expect(text.contains("HTTP/1.1 400 Bad Request"))
        #expect(!channel.isActive)
    }

    /// Over TLS a client that shuts its side without close_notify causes NIOSSL's `uncleanShutdown`
    /// error before `inputClosed`: what it sent is answered all the same.
    @Test func anUncleanTLSShutdownIsAHalfClose() async throws {
        var (channel, requests) = try Self.handlerChannel()
        try channel.writeInbound(ByteBuffer(string: Self.shortPost + "GET /second HTTP/1.1\r\nHost: acs\r\n\r\n"))
        _ = try #require(await requests.next())
        channel.pipeline.fireErrorCaught(NIOSSLError.uncleanShutdown)
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(channel.isActive)
        try channel.writeOutbound(CWMPHTTPResponse(status: .ok))
        let second = try #require(await requests.next())
        #expect(second.method == .GET)
        try channel.writeOutbound(CWMPHTTPResponse(status: .methodNotAllowed))
        #expect(Self.statuses(try Self.written(channel)) == ["200", "405"])
        #expect(await requests.next() == nil, "the half-close ends the requests after the held one")
        _ = try? channel.finish()
    }

    /// Graceful shutdown (Hummingbird sends `ChannelShouldQuiesceEvent`): the answer in progress says
    /// `Connection: close` and the connection closes after it; an idle connection closes at once.
    @Test func gracefulShutdownClosesAfterTheAnswerInProgress() async throws {
        var (channel, requests) = try Self.handlerChannel()
        try channel.writeInbound(ByteBuffer(string: Self.shortPost))
        _ = try #require(await requests.next())
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(channel.isActive)
        try channel.writeOutbound(CWMPHTTPResponse(status: .ok))
        let text = try Self.written(channel)
        #expect(text.hasPrefix("HTTP/1.1 200 OK"))
        #expect(text.lowercased().contains("connection: close"))
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive)

        let (idle, _) = try Self.handlerChannel()
        idle.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        idle.embeddedEventLoop.run()
        #expect(!idle.isActive)
    }

    @Test func answersCarryLengthDateAndServer() async throws {
        try await withListener { port in
            let (text, _) = try await Self.exchange(port: port, Self.post(Self.inform, headers: ["Connection: close"]))
            let head = text.components(separatedBy: "\r\n\r\n")[0].lowercased()
            let body = text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
            #expect(head.contains("content-length: \(body.utf8.count)\r\n"))
            #expect(head.contains("server: tandem/\(TandemServer.version)"))
            let date = try #require(head.components(separatedBy: "\r\n").first { $0.hasPrefix("date: ") })
            #expect(date.hasSuffix(" gmt") && date.count == "date: sun, 06 nov 1994 08:49:37 gmt".count)
        }
    }

    @Test func http10WithoutKeepAliveIsClosedAfterTheAnswer() async throws {
        try await withListener { port in
            let request = "POST / HTTP/1.0\r\nContent-Type: text/xml\r\nContent-Length: \(Self.inform.utf8.count)\r\n\r\n" + Self.inform
            let (text, closed) = try await Self.exchange(port: port, request)
            #expect(text.hasPrefix("HTTP/1.0 200 OK"))
            #expect(text.contains("InformResponse"))
            #expect(closed)
        }
    }

    @Test func anOversizedBodyIsRefusedBeforeItIsSentAndTheConnectionServesOn() async throws {
        try await withListener({ $0.cwmp.maxBodyBytes = 32 * 1024 }) { port in
            // The declared length alone earns 413: the body never comes, and the answer does not wait for it.
            let (refused, closedEarly) = try await Self.exchange(port: port, "POST / HTTP/1.1\r\nHost: acs\r\nContent-Length: 999999999\r\n\r\n", timeout: 2)
            #expect(refused.hasPrefix("HTTP/1.1 413 Payload Too Large"))
            #expect(!closedEarly)
            // Over the limit by a little, in chunks: 413, the rest is dropped, and the next request is served.
            let chunk = String(repeating: " ", count: 20 * 1024)
            let chunked = "POST / HTTP/1.1\r\nHost: acs\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5000\r\n\(chunk)\r\n5000\r\n\(chunk)\r\n0\r\n\r\n"
            let (text, closed) = try await Self.exchange(port: port, chunked + Self.post(Self.inform, headers: ["Connection: close"]))
            #expect(text.hasPrefix("HTTP/1.1 413 Payload Too Large"))
            #expect(text.contains("HTTP/1.1 200 OK") && text.contains("InformResponse"))
            #expect(closed)
        }
    }

    @Test func unparsableHTTPGets400AndTheConnectionCloses() async throws {
        try await withListener { port in
            let (text, closed) = try await Self.exchange(port: port, "THIS IS NOT HTTP\r\n\r\n")
            #expect(text.hasPrefix("HTTP/1.1 400 Bad Request"))
            #expect(closed)
        }
    }

    @Test func dateHeaderIsIMFFixdate() {
        // RFC 9110 5.6.7's own example.
        #expect(HTTPDate.format(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(1_796_601_600) == "Mon, 07 Dec 2026 00:00:00 GMT")
    }
}
