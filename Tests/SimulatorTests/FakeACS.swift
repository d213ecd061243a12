import CWMP
import Foundation
import HTTPAuthentication
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import TandemCore

/// A small scripted ACS for the live tests, written against the CWMP codec only: it challenges
/// every POST (Digest by default), answers the Inform and the CPE's requests, then on each empty
/// POST sends the next scripted request (204 when the script is empty) and records the answers.
/// The same listener serves files for Download (`GET /files/<name>`) and takes uploads
/// (`PUT /upload/<name>`), both behind Digest.
final class FakeACS: Sendable {
    enum Authentication: Sendable {
        case none
        case digest([DigestAlgorithm])
        case basic
    }

    /// One scripted message: a request built with the codec, or raw SOAP text (for methods the
    /// codec cannot express).
    enum ScriptItem: Sendable {
        case request(ACSRequest)
        case raw(method: String, body: String)
        /// Hold the session this long before the next item (the device stays in session).
        case pause(Duration)
    }

    /// One session as the ACS saw it.
    struct Session: Sendable {
        var cookie: String
        var inform: CPERequest.Inform
        var namespace: CWMPNamespace
        var cpeRequests: [CPERequest] = []
        /// Each scripted request (its method name) with the CPE's answer.
        var exchanges: [(method: String, request: ACSRequest?, answer: CWMPBody)] = []
        var ended = false
        /// The `Authorization` headers seen (scheme and algorithm checks).
        var authorizations: [String] = []
        var serial: String { inform.deviceID.serialNumber }
        func has(_ code: CWMPEventCode) -> Bool { inform.has(code) }

        /// The answer to the scripted request named `method`.
        func answer(to method: String) -> CWMPBody? { exchanges.first { $0.method == method }?.answer }
    }

    actor State {
        var sessions: [Session] = []
        var script: [String: [ScriptItem]] = [:]
        var sharedScript: [ScriptItem] = []
        var files: [String: [UInt8]] = [:]
        var uploads: [String: [UInt8]] = [:]
        var rejectInforms = 0
        var nextID = 1
        var outstanding: [String: (method: String, request: ACSRequest?)] = [:]
        var unauthorized = 0
        var base: String?

        func setBase(_ value: String) { base = value }

        func enqueue(_ items: [ScriptItem], serial: String?) {
            if let serial { script[serial, default: []] += items } else { sharedScript += items }
        }

        func nextItem(for serial: String) -> ScriptItem? {
            if var queue = script[serial], !queue.isEmpty {
                let item = queue.removeFirst()
                script[serial] = queue
                return item
            }
            return sharedScript.isEmpty ? nil : sharedScript.removeFirst()
        }

        func setRejectInforms(_ count: Int) { rejectInforms = count }
        func takeReject() -> Bool {
            guard rejectInforms > 0 else { return false }
            rejectInforms -= 1
            return true
        }
        func countUnauthorized() { unauthorized += 1 }
        func addFile(_ name: String, _ bytes: [UInt8]) { files[name] = bytes }
        func file(_ name: String) -> [UInt8]? { files[name] }
        func storeUpload(_ name: String, _ bytes: [UInt8]) { uploads[name] = bytes }

        func index(of cookie: String) -> Int? { sessions.lastIndex { $0.cookie == cookie } }
        func append(_ session: Session) { sessions.append(session) }
        func update(_ index: Int, _ change: @Sendable (inout Session) -> Void) { change(&sessions[index]) }
        func makeID() -> Int {
            defer { nextID += 1 }
            return nextID
        }
        func setOutstanding(_ cookie: String, _ value: (method: String, request: ACSRequest?)?) { outstanding[cookie] = value }
        func takeOutstanding(_ cookie: String) -> (method: String, request: ACSRequest?)? {
            defer { outstanding[cookie] = nil }
            return outstanding[cookie]
        }
    }

    let authentication: Authentication
    /// Password for a username, nil for unknown users.
    let password: @Sendable (String) -> String?
    let digest: DigestServer
    let state = State()
    private let listening = AsyncStream<Int>.makeStream()

    init(authentication: Authentication = .digest([.sha256, .md5]), password: @escaping @Sendable (String) -> String? = { "pw-" + $0 }) {
        self.authentication = authentication
        self.password = password
        if case .digest(let algorithms) = authentication {
            digest = DigestServer(realm: "fake-acs", algorithms: algorithms)
        } else {
            digest = DigestServer(realm: "fake-acs")
        }
    }

    // MARK: Test-facing API

    func enqueue(_ requests: ACSRequest..., serial: String? = nil) async {
        await state.enqueue(requests.map(ScriptItem.request), serial: serial)
    }

    func enqueuePause(_ duration: Duration, serial: String? = nil) async {
        await state.enqueue([.pause(duration)], serial: serial)
    }

    func enqueueRaw(method: String, body: String, serial: String? = nil) async {
        await state.enqueue([.raw(method: method, body: body)], serial: serial)
    }

    func sessions(serial: String? = nil) async -> [Session] {
        await state.sessions.filter { serial == nil || $0.serial == serial }
    }

    /// Waits until `count` sessions of `serial` (or of all devices) have ended with 204.
    @discardableResult
    func waitForEndedSessions(_ count: Int, serial: String? = nil, timeout: Duration = .seconds(30)) async throws -> [Session] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let ended = await sessions(serial: serial).filter(\.ended)
            if ended.count >= count { return ended }
            guard ContinuousClock.now < deadline else {
                throw TestFailure("only \(ended.count) of \(count) sessions ended (\(await sessions(serial: serial).count) started)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    // MARK: Server

    /// Runs the listener until cancelled.
    func run() async throws {
        let router = Router(context: BasicRequestContext.self)
        router.post("/acs") { request, _ in try await self.acs(request) }
        router.get("/files/:name") { request, context in
            if let refusal = self.refuse(request) { return refusal }
            guard let bytes = await self.state.file(context.parameters.get("name") ?? "") else { return Response(status: .notFound) }
            return Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        router.put("/upload/:name") { request, context in
            if let refusal = self.refuse(request) { return refusal }
            var request = request
            let buffer = try await request.collectBody(upTo: 1 << 22)
            await self.state.storeUpload(context.parameters.get("name") ?? "", Array(buffer.readableBytesView))
            return Response(status: .created)
        }
        let continuation = listening.continuation
        var logger = Logger(label: "fake-acs")
        logger.logLevel = .critical
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port ?? 0)
                continuation.finish()
            },
            logger: logger)
        try await app.run()
    }

    /// `http://127.0.0.1:<port>` once listening.
    func baseURL() async -> String {
        if let base = await state.base { return base }
        var port = 0
        for await value in listening.stream {
            port = value
            break
        }
        let base = "http://127.0.0.1:\(port)"
        await state.setBase(base)
        return base
    }

    /// A 401 with challenges when `request` does not authenticate, else nil.
    private func refuse(_ request: Request) -> Response? {
        let header = request.headers[.authorization]
        switch authentication {
        case .none:
            return nil
        case .basic:
            if let header, let credentials = BasicCredentials(headerValue: header), password(credentials.username) == credentials.password {
                return nil
            }
            var headers = HTTPFields()
            headers.append(HTTPField(name: .wwwAuthenticate, value: BasicCredentials.challenge(realm: "fake-acs")))
            return Response(status: .unauthorized, headers: headers)
        case .digest:
            if let header, case .accepted = digest.verify(authorization: header, method: request.method.rawValue, password: password) {
                return nil
            }
            var headers = HTTPFields()
            for value in digest.challenges() { headers.append(HTTPField(name: .wwwAuthenticate, value: value)) }
            return Response(status: .unauthorized, headers: headers)
        }
    }

    private func acs(_ incoming: Request) async throws -> Response {
        if let refusal = refuse(incoming) {
            await state.countUnauthorized()
            return refusal
        }
        var request = incoming
        let bytes = Array(try await request.collectBody(upTo: 1 << 22).readableBytesView)
        let cookie = Self.cookie(in: request.headers[.cookie])
        let authorization = request.headers[.authorization]

        if CWMPDecoder.isEmptyBody(bytes) {
            guard let cookie, let index = await state.index(of: cookie) else { return Response(status: .badRequest) }
            await state.update(index) { if let authorization { $0.authorizations.append(authorization) } }
            return await nextRequest(cookie: cookie, index: index)
        }

        let envelope: CWMPEnvelope
        do { envelope = try CWMPDecoder().decode(bytes, from: .cpe) } catch { return Response(status: .badRequest) }

        if case .cpeRequest(.inform(let inform)) = envelope.body {
            if await state.takeReject() {
                var headers = HTTPFields()
                headers[.retryAfter] = "0"
                return Response(status: .serviceUnavailable, headers: headers)
            }
            let cookie = "s\(await state.makeID())"
            await state.append(Session(cookie: cookie, inform: inform, namespace: envelope.namespace, authorizations: authorization.map { [$0] } ?? []))
            var headers = HTTPFields()
            headers[.setCookie] = "session=\(cookie); Path=/; HttpOnly"
            return reply(CWMPEnvelope(cwmpID: envelope.cwmpID, namespace: envelope.namespace, body: .acsResponse(.inform(maxEnvelopes: 1))), headers: headers)
        }

        // Every later message must carry the session cookie.
        guard let cookie, let index = await state.index(of: cookie) else { return Response(status: .badRequest) }
        await state.update(index) { if let authorization { $0.authorizations.append(authorization) } }
        switch envelope.body {
        case .cpeRequest(let cpeRequest):
            await state.update(index) { $0.cpeRequests.append(cpeRequest) }
            return reply(CWMPEnvelope(cwmpID: envelope.cwmpID, namespace: envelope.namespace, body: .acsResponse(cpeRequest.defaultResponse())))
        case .cpeResponse, .fault:
            if let outstanding = await state.takeOutstanding(cookie) {
                await state.update(index) { $0.exchanges.append((outstanding.method, outstanding.request, envelope.body)) }
            }
            return await nextRequest(cookie: cookie, index: index)
        default:
            return Response(status: .badRequest)
        }
    }

    private func nextRequest(cookie: String, index: Int) async -> Response {
        let session = await state.sessions[index]
        guard let item = await state.nextItem(for: session.serial) else {
            await state.update(index) { $0.ended = true }
            return Response(status: .noContent)
        }
        let id = "acs-\(await state.makeID())"
        switch item {
        case .request(let request):
            await state.setOutstanding(cookie, (request.methodName, request))
            return reply(CWMPEnvelope(cwmpID: id, namespace: session.namespace, body: .acsRequest(request)))
        case .pause(let duration):
            try? await Task.sleep(for: duration)
            return await nextRequest(cookie: cookie, index: index)
        case .raw(let method, let body):
            await state.setOutstanding(cookie, (method, nil))
            let text = """
                <?xml version="1.0" encoding="UTF-8"?>
                <soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:cwmp="\(session.namespace.rawValue)">
                <soapenv:Header><cwmp:ID soapenv:mustUnderstand="1">\(id)</cwmp:ID></soapenv:Header>
                <soapenv:Body>\(body)</soapenv:Body></soapenv:Envelope>
                """
            return Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
    }

    private func reply(_ envelope: CWMPEnvelope, headers: HTTPFields = HTTPFields()) -> Response {
        var headers = headers
        headers[.contentType] = "text/xml; charset=\"utf-8\""
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: CWMPEncoder().encode(envelope))))
    }

    static func cookie(in header: String?) -> String? {
        guard let header else { return nil }
        for part in header.split(separator: ";") {
            let pair = part.trimmingCharacters(in: .whitespaces)
            if pair.hasPrefix("session=") { return String(pair.dropFirst("session=".count)) }
        }
        return nil
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
