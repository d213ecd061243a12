import Engine
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// A request context that knows the peer's address, for the event log.
typealias CWMPRequestContext = RemoteAddressContext

/// The HTTP side of the ACS: where CPEs POST their SOAP envelopes (TR-069 3.4).
struct CWMPRoutes: Sendable {
    let sessions: CWMPSessionManager
    let authenticator: CPEAuthenticator
    let maxBodyBytes: Int
    let logger: Logger
    /// Failed authentications per address (`cwmp.maxFailedAuthenticationsPerMinute`).
    let throttle: AuthenticationThrottle

    static let cookieName = "session"
    private static let cookiePrefix = cookieName + "="

    func register(on router: Router<CWMPRequestContext>) {
        router.post("/") { request, context in try await handle(request, context) }
        router.post("**") { request, context in try await handle(request, context) }
    }

    func handle(_ request: Request, _ context: CWMPRequestContext) async throws -> Response {
        let cookie = Self.sessionCookie(request.headers[.cookie])
        var user: String?
        // A CPE authenticates once per session; the session cookie carries that on.
        var sessionOpen = false
        if let cookie { sessionOpen = sessions.isOpen(cookie) }
        if !sessionOpen {
            let address = context.remoteAddress?.throttleKey ?? "unknown"
            if let wait = throttle.retryAfter(address) { return AuthenticationThrottle.tooManyRequests(retryAfter: wait) }
            switch await authenticator.authenticate(authorization: request.headers[.authorization], method: "POST") {
            case .accepted(let username):
                user = username
            case .challenge(let values):
                // The first 401 of a Digest exchange is no failure; wrong credentials are.
                if request.headers[.authorization] != nil { throttle.recordFailure(address) }
                return Self.challenge(values)
            }
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxBodyBytes)
        } catch {
            logger.notice("CWMP body over the limit", metadata: ["limit": "\(maxBodyBytes)"])
            return Response(status: .contentTooLarge)
        }
        let remote = context.remoteAddress.map { $0.ipAddress ?? "\($0)" }
        var exchange = CWMPExchange(
            sessionID: cookie, body: Array(buffer: body), charset: Self.charset(request.headers[.contentType]),
            remoteAddress: remote, authenticatedUser: user, mayOpenSession: !sessionOpen)
        var reply = await sessions.handle(exchange)
        if sessionOpen && reply.status == 401 {
            // The session ended between the check and the request (timed out): this request would
            // open a new one, so it is authenticated like any first request (TR-069 3.4.4).
            switch await authenticator.authenticate(authorization: request.headers[.authorization], method: "POST") {
            case .accepted(let username):
                exchange.authenticatedUser = username
                exchange.mayOpenSession = true
                reply = await sessions.handle(exchange)
            case .challenge(let values):
                return Self.challenge(values)
            }
        }
        var headers = HTTPFields()
        if let id = reply.newSessionID { headers[.setCookie] = "\(Self.cookieName)=\(id); Path=/; HttpOnly" }
        if let retry = reply.retryAfter { headers[.retryAfter] = String(retry) }
        if !reply.body.isEmpty { headers[.contentType] = "text/xml; charset=utf-8" }
        return Response(status: .init(code: reply.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: reply.body)))
    }

    /// 401 with the authenticator's WWW-Authenticate challenges.
    static func challenge(_ values: [String]) -> Response {
        var headers = HTTPFields()
        for value in values { headers.append(HTTPField(name: .wwwAuthenticate, value: value)) }
        return Response(status: .unauthorized, headers: headers)
    }

    /// The session cookie, tolerating `;` or `,` separators, spaces and a quoted value (TR-069 A.11
    /// deviations). Runs on every POST, so it scans the header's bytes without Foundation.
    static func sessionCookie(_ header: String?) -> String? {
        guard let header else { return nil }
        for part in header.utf8.split(whereSeparator: { $0 == UInt8(ascii: ";") || $0 == UInt8(ascii: ",") }) {
            let pair = Substring(part).trimmingHTTPSpaces()
            guard pair.hasPrefix(cookiePrefix) else { continue }
            let value = pair.dropFirst(cookiePrefix.count).trimmingQuotes()
            return value.isEmpty ? nil : String(value)
        }
        return nil
    }

    /// The `charset` parameter of a Content-Type value, without quotes or spaces.
    static func charset(_ contentType: String?) -> String? {
        guard let contentType else { return nil }
        for parameter in contentType.utf8.split(separator: UInt8(ascii: ";")).dropFirst() {
            let text = Substring(parameter).trimmingHTTPSpaces()
            guard text.utf8.count > 8, text.utf8.prefix(8).lazy.map({ $0 | 0x20 }).elementsEqual("charset=".utf8) else { continue }
            let value = text.dropFirst(8).trimmingQuotes()
            return value.isEmpty ? nil : String(value)
        }
        return nil
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs (HTTP optional whitespace).
    fileprivate func trimmingHTTPSpaces() -> Substring { trimming { $0 == " " || $0 == "\t" } }

    /// Without surrounding spaces and double quotes.
    fileprivate func trimmingQuotes() -> Substring { trimming { $0 == " " || $0 == "\"" } }

    private func trimming(_ trimmed: (Character) -> Bool) -> Substring {
        var start = startIndex
        var end = endIndex
        while start < end, trimmed(self[start]) { start = index(after: start) }
        while end > start, trimmed(self[index(before: end)]) { end = index(before: end) }
        return self[start..<end]
    }
}
