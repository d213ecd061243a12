import Engine
import Logging
import NIOCore
import NIOHTTP1

/// One complete HTTP request of a CPE, as the CWMP listener hands it over.
struct CWMPHTTPRequest: Sendable {
    var method: HTTPMethod
    /// Every Cookie field, joined with `; ` (RFC 6265 5.4 allows one; some CPEs send more).
    var cookie: String?
    var authorization: String?
    var contentType: String?
    var body: ByteBuffer
    /// The peer's IP address as text (``SocketAddress/throttleKey``), formatted once per connection.
    var remoteAddress: String?
}

/// The answer to a ``CWMPHTTPRequest``; the listener adds the framing headers.
struct CWMPHTTPResponse: Sendable {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: ByteBuffer?
    /// Close the connection once the answer is written.
    var close = false

    init(status: HTTPResponseStatus, headers: HTTPHeaders = [:], body: ByteBuffer? = nil, close: Bool = false) {
        self.status = status
        self.headers = headers
        self.body = body
        self.close = close
    }
}

/// The HTTP side of the ACS: where CPEs POST their SOAP envelopes (TR-069 3.4). It sees whole
/// requests (``CWMPListener`` collects them), authenticates the session's first one and hands the
/// body to the session manager.
struct CWMPFrontEnd: Sendable {
    let sessions: CWMPSessionManager
    let authenticator: CPEAuthenticator
    let logger: Logger
    /// Failed authentications per address (`cwmp.maxFailedAuthenticationsPerMinute`).
    let throttle: AuthenticationThrottle

    static let cookieName = "session"
    private static let cookiePrefix = cookieName + "="

    func handle(_ request: CWMPHTTPRequest) async -> CWMPHTTPResponse {
        // TR-069 3.4: a CPE only ever POSTs.
        guard request.method == .POST else {
            return CWMPHTTPResponse(status: .methodNotAllowed, headers: ["Allow": "POST"])
        }
        let cookie = Self.sessionCookie(request.cookie)
        var user: String?
        // A CPE authenticates once per session; the session cookie carries that on.
        var sessionOpen = false
        if let cookie { sessionOpen = sessions.isOpen(cookie) }
        if !sessionOpen {
            let address = request.remoteAddress ?? "unknown"
            if let wait = throttle.retryAfter(address) { return Self.tooManyRequests(retryAfter: wait) }
            switch await authenticator.authenticate(authorization: request.authorization, method: "POST") {
            case .accepted(let username):
                user = username
            case .challenge(let values):
                // The first 401 of a Digest exchange is no failure; wrong credentials are.
                if request.authorization != nil { throttle.recordFailure(address) }
                return Self.challenge(values)
            }
        }
        var exchange = CWMPExchange(
            sessionID: cookie, body: Array(buffer: request.body), charset: Self.charset(request.contentType),
            remoteAddress: request.remoteAddress, authenticatedUser: user, mayOpenSession: !sessionOpen)
        var reply = await sessions.handle(exchange)
        if sessionOpen && reply.status == 401 {
            // The session ended between the check and the request (timed out): this request would
            // open a new one, so it is authenticated like any first request (TR-069 3.4.4).
            switch await authenticator.authenticate(authorization: request.authorization, method: "POST") {
            case .accepted(let username):
                exchange.authenticatedUser = username
                exchange.mayOpenSession = true
                reply = await sessions.handle(exchange)
            case .challenge(let values):
                return Self.challenge(values)
            }
        }
        var headers = HTTPHeaders()
        if let id = reply.newSessionID { headers.add(name: "Set-Cookie", value: "\(Self.cookieName)=\(id); Path=/; HttpOnly") }
        if let retry = reply.retryAfter { headers.add(name: "Retry-After", value: String(retry)) }
        var body: ByteBuffer?
        if !reply.body.isEmpty {
            headers.add(name: "Content-Type", value: "text/xml; charset=utf-8")
            body = ByteBuffer(bytes: reply.body)
        }
        return CWMPHTTPResponse(status: .init(statusCode: reply.status), headers: headers, body: body)
    }

    /// 401 with the authenticator's WWW-Authenticate challenges.
    static func challenge(_ values: [String]) -> CWMPHTTPResponse {
        var headers = HTTPHeaders()
        for value in values { headers.add(name: "WWW-Authenticate", value: value) }
        return CWMPHTTPResponse(status: .unauthorized, headers: headers)
    }

    /// 429 with Retry-After and the API's JSON error body.
    static func tooManyRequests(retryAfter seconds: Int) -> CWMPHTTPResponse {
        let headers: HTTPHeaders = ["Retry-After": String(seconds), "Content-Type": "application/json; charset=utf-8"]
        return CWMPHTTPResponse(
            status: .tooManyRequests, headers: headers, body: ByteBuffer(string: AuthenticationThrottle.tooManyRequestsBody(retryAfter: seconds)))
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
