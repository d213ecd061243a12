import Foundation
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import ServiceLifecycle
import Synchronization

/// The CWMP listener's connections: NIO's HTTP/1.1 server pipeline, then ``CWMPHTTPHandler``, which
/// collects each request whole (head and body, up to `cwmp.maxBodyBytes`) on the event loop and
/// passes it to the connection's task as one value. That task asks ``CWMPFrontEnd`` and writes the
/// answer back as one value. A CWMP session is a few small POSTs on one connection, so per request
/// this costs one hop each way, not one per HTTP part plus a router.
///
/// It plugs into Hummingbird's server (accepting, backlog, connection limit, TLS through
/// `TLSChannel`, graceful shutdown, the live test client) as a `ServerChildChannel`.
struct CWMPChildChannel: ServerChildChannel {
    struct Connection: ServerChildChannelValue {
        let channel: any Channel
        let requests: AsyncStream<CWMPHTTPRequest>
        let continuation: AsyncStream<CWMPHTTPRequest>.Continuation
    }

    let frontEnd: CWMPFrontEnd
    let maxBodyBytes: Int
    let serverName: String

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Connection> {
        channel.eventLoop.makeCompletedFuture {
            // Pipelining and unparsable HTTP are ``CWMPHTTPHandler``'s own: NIO's pipelining
            // assistance stops reading while each answer is prepared, two epoll_ctl calls per request
            // for the CPEs that never pipeline. Outbound header validation is left out: every
            // answer's header names and values are Tandem's own (constants, numbers, hex session
            // IDs, the Digest challenge).
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                withPipeliningAssistance: false, withErrorHandling: false, withOutboundHeaderValidation: false)
            let (requests, continuation) = AsyncStream.makeStream(of: CWMPHTTPRequest.self)
            try channel.pipeline.syncOperations.addHandler(
                CWMPHTTPHandler(maxBodyBytes: maxBodyBytes, serverName: serverName, requests: continuation, logger: logger))
            return Connection(channel: channel, requests: requests, continuation: continuation)
        }
    }

    func handle(value connection: Connection, logger: Logger) async {
        await withGracefulShutdownHandler {
            // Requests arrive one at a time (``CWMPHTTPHandler`` holds the next until the answer): each
            // is answered before the next.
            for await request in connection.requests {
                let response = await frontEnd.handle(request)
                connection.channel.writeAndFlush(response, promise: nil)
            }
        } onGracefulShutdown: {
            // The request in hand is answered; then the connection closes.
            connection.continuation.finish()
        }
        // Queued behind the last answer on the event loop, so that answer is written first.
        connection.channel.close(promise: nil)
    }
}

/// Collects one HTTP request at a time into a ``CWMPHTTPRequest`` and writes ``CWMPHTTPResponse``s
/// with their framing headers (Content-Length, Date, Server, Connection).
///
/// One request is answered at a time (RFC 9112 9.3: answers go out in the order the requests
/// came). Reading goes on while an answer is being prepared, because a CPE sends nothing more
/// until it has the answer (TR-069 3.4.6: a CPE does not pipeline). What a client does
/// send meanwhile (a pipelined request, an HTTP error, its half-close) is held, in order, and reads
/// stop until the answer is written. What waits is bounded as with NIO's pipelining assistance:
/// the bytes of one read event (NIO reads up to four buffers in one), or on a half-close what the
/// socket's receive buffer held.
final class CWMPHTTPHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = CWMPHTTPResponse
    typealias OutboundOut = HTTPServerResponsePart

    private let maxBodyBytes: Int
    private let serverName: String
    private let requests: AsyncStream<CWMPHTTPRequest>.Continuation
    private let logger: Logger

    private enum State {
        case idle
        /// Head seen, body arriving.
        case collecting(HTTPRequestHead, ByteBuffer?)
        /// The body went over the limit and 413 is on its way: the rest of the body is read and
        /// dropped, up to this many more bytes (the limit, at least 1 MiB; past them the connection
        /// closes), so that the connection can carry the next request.
        case discarding(Int)
    }
    private var state = State.idle
    /// The version and keep-alive of the request being answered.
    private var version = HTTPVersion.http1_1
    private var keepAlive = true

    /// What arrived while a request was being answered, taken up once the answer is written.
    private enum Held {
        case part(HTTPServerRequestPart)
        case error(any Error)
        case inputClosed
    }
    /// A request went to the connection's task and its answer is not written yet.
    private var answering = false
    private var held = CircularBuffer<Held>(initialCapacity: 0)
    /// A read was asked for while something was held: passed on once the holding ends.
    private var readHeld = false
    /// An answer closed the connection: nothing held or arriving is answered any more.
    private var closing = false
    /// The server is shutting down gracefully: the answer in progress is the last.
    private var quiescing = false
    /// The peer's address as text, formatted at the connection's first request (a CPE's connection
    /// carries two or more).
    private var remoteAddress: String??

    /// Whatever arrives now waits: a request is being answered, or something arrived before it.
    private var holding: Bool { answering || !held.isEmpty }

    /// Closes the connection without an answer; nothing held or arriving is taken up after it.
    private func closeNow(context: ChannelHandlerContext) {
        closing = true
        context.close(promise: nil)
    }

    init(maxBodyBytes: Int, serverName: String, requests: AsyncStream<CWMPHTTPRequest>.Continuation, logger: Logger) {
        self.maxBodyBytes = maxBodyBytes
        self.serverName = serverName
        self.requests = requests
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        guard !closing else { return }
        if holding {
            held.append(.part(part))
            return
        }
        receive(part, context: context)
    }

    /// Reads go on unless something is held: then they wait for the answer (see the type's notes).
    func read(context: ChannelHandlerContext) {
        if held.isEmpty {
            context.read()
        } else {
            readHeld = true
        }
    }

    private func receive(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            version = head.version
            keepAlive = head.isKeepAlive
            state = .collecting(head, nil)
            if let length = head.headers.first(name: "content-length").flatMap({ Int($0) }), length > maxBodyBytes {
                refuse(context: context)
            }
        case .body(var chunk):
            if case .discarding(let budget) = state {
                state = .discarding(budget - chunk.readableBytes)
                if budget < chunk.readableBytes { closeNow(context: context) }
                return
            }
            guard case .collecting(let head, var body) = state else { return }
            let received = (body?.readableBytes ?? 0) + chunk.readableBytes
            if received > maxBodyBytes {
                refuse(context: context)
                return
            }
            // The usual envelope arrives in one chunk, kept as it is; later chunks are appended.
            state = .idle
            if body == nil { body = chunk } else { body!.writeBuffer(&chunk) }
            state = .collecting(head, body)
        case .end:
            guard case .collecting(let head, let body) = state else {
                state = .idle
                return
            }
            state = .idle
            answering = true
            requests.yield(CWMPHTTPRequest(
                method: head.method, cookie: Self.joined(head.headers[canonicalForm: "cookie"]),
                authorization: head.headers.first(name: "authorization"), contentType: head.headers.first(name: "content-type"),
                body: body ?? ByteBuffer(), remoteAddress: peerAddress(context)))
        }
    }

    private func peerAddress(_ context: ChannelHandlerContext) -> String? {
        if let remoteAddress { return remoteAddress }
        let address = context.channel.remoteAddress?.throttleKey
        remoteAddress = .some(address)
        return address
    }

    /// 413 before the body has arrived (RFC 9110 15.5.14); the rest of it is dropped unread.
    private func refuse(context: ChannelHandlerContext) {
        logger.notice("CWMP body over the limit", metadata: ["limit": "\(maxBodyBytes)"])
        state = .discarding(max(maxBodyBytes, 1 << 20))
        write(CWMPHTTPResponse(status: .payloadTooLarge), context: context)
    }

    /// The connection's task answers the request it was given.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // The task writes once for each request it is given, and only then.
        assert(answering, "an answer with no request being answered")
        write(unwrapOutboundIn(data), context: context, promise: promise)
        answering = false
        takeUpHeld(context: context)
    }

    /// After an answer: what was held is received in order, until it yields the next request (which
    /// then waits for its own answer) or runs out; then reads resume.
    private func takeUpHeld(context: ChannelHandlerContext) {
        while !answering && !closing, let next = held.popFirst() {
            switch next {
            case .part(let part): receive(part, context: context)
            case .error(let error): fail(error, context: context)
            case .inputClosed: requests.finish()
            }
        }
        if closing { held.removeAll() }
        if held.isEmpty && readHeld {
            readHeld = false
            context.read()
        }
    }

    private func write(_ response: CWMPHTTPResponse, context: ChannelHandlerContext, promise: EventLoopPromise<Void>? = nil) {
        let close = response.close || !keepAlive || quiescing
        if close { closing = true }
        var head = HTTPResponseHead(version: version, status: response.status, headers: response.headers)
        head.headers.add(name: "Content-Length", value: String(response.body?.readableBytes ?? 0))
        head.headers.add(name: "Date", value: HTTPDate.now())
        head.headers.add(name: "Server", value: serverName)
        if close {
            head.headers.add(name: "Connection", value: "close")
        } else if version == .http1_0 {
            head.headers.add(name: "Connection", value: "keep-alive")
        }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if let body = response.body, body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        guard close else {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: promise)
            return
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        written.futureResult.assumeIsolated().whenComplete { result in
            promise?.completeWith(result)
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let event as ChannelEvent where event == .inputClosed:
            // The CPE closed its side: what it sent is still answered, then the connection closes.
            if held.isEmpty { requests.finish() } else { held.append(.inputClosed) }
        case is ChannelShouldQuiesceEvent:
            // Graceful shutdown: the request being answered or received is answered with
            // `Connection: close`; an idle connection closes now.
            quiescing = true
            if !holding, case .idle = state, !closing { closeNow(context: context) }
        default:
            break
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        requests.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error {
        case ByteToMessageDecoderError.dataReceivedInErrorState:
            // Bytes after unparsable HTTP: the parser error before them is held or answered already.
            return
        case NIOSSLError.uncleanShutdown:
            // TLS without close_notify: the half-close that follows (`inputClosed`) is handled as on
            // plain TCP, so what the client sent is still answered.
            return
        default:
            break
        }
        // Unparsable HTTP after a request that is being answered waits for that answer; any other
        // error (the connection failed) ends the connection now.
        if error is HTTPParserError && holding {
            held.append(.error(error))
            return
        }
        fail(error, context: context)
    }

    /// Unparsable HTTP gets 400 (RFC 9112 2.2) and the connection closes: the decoder cannot find
    /// where the next request would start. Other errors close it at once.
    private func fail(_ error: any Error, context: ChannelHandlerContext) {
        logger.debug("CWMP connection error", metadata: ["error": "\(error)"])
        guard !closing else { return }
        if error is HTTPParserError {
            write(CWMPHTTPResponse(status: .badRequest, close: true), context: context)
        } else {
            closeNow(context: context)
        }
    }

    private static func joined(_ values: [Substring]) -> String? {
        switch values.count {
        case 0: nil
        case 1: String(values[0])
        default: values.joined(separator: "; ")
        }
    }
}

/// The `Date` header's value (RFC 9110 6.6.1, IMF-fixdate), formatted once a second.
enum HTTPDate {
    private static let cache = Mutex<(second: Int, text: String)>((-1, ""))
    private static let days = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func now() -> String {
        let second = Int(time(nil))
        return cache.withLock { cached in
            if cached.second != second { cached = (second, format(second)) }
            return cached.text
        }
    }

    /// `Sun, 06 Nov 1994 08:49:37 GMT` for a count of seconds since 1970.
    static func format(_ seconds: Int) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[(seconds / 86_400 % 7 + 7) % 7]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
