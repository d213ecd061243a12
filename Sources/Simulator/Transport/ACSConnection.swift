import AsyncHTTPClient
import CWMP
import Foundation
import HTTPAuthentication
import NIOCore
import NIOHTTP1

/// Why a session could not be carried through.
public struct SessionFailure: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    /// The HTTP status that ended the session, if one did.
    public var status: Int?
    /// The ACS's `Retry-After` with a 503, honoured before the next attempt.
    public var retryAfter: Duration?

    public init(_ message: String, status: Int? = nil, retryAfter: Duration? = nil) {
        self.message = message
        self.status = status
        self.retryAfter = retryAfter
    }

    public var description: String { message }
}

/// The HTTP side of one CWMP session, as a CPE drives it (TR-069 3.4): POSTs of envelopes (or
/// empty POSTs) to the ACS URL, the session cookies echoed, 401 challenges answered with Digest
/// (SHA-256 preferred) or Basic, redirects followed (at most 5) and the answers decoded.
struct ACSConnection {
    /// What one POST brought back.
    enum Reply {
        case envelope(CWMPEnvelope)
        /// HTTP 204, or 200 with an empty body: the ACS has nothing more.
        case empty
        /// A body that did not decode.
        case undecodable(CWMPDecodingError)
    }

    let client: HTTPClient
    private(set) var url: String
    let username: String
    let password: String
    let timeout: Duration
    let userAgent: String
    private var cookies: [(name: String, value: String)] = []
    private var digest: DigestClient
    /// The last Digest challenges, answered again preemptively on later POSTs (nonce count up).
    private var digestChallenges: [String]?
    private var useBasic = false
    private(set) var authenticationScheme: String?
    private let decoder = CWMPDecoder()

    init(client: HTTPClient, url: String, username: String, password: String, timeout: Duration, userAgent: String) {
        self.client = client
        self.url = url
        self.username = username
        self.password = password
        self.timeout = timeout
        self.userAgent = userAgent
        self.digest = DigestClient(username: username, password: password)
    }

    /// POSTs `body` (nil: an empty POST) and returns the ACS's answer.
    mutating func post(_ body: [UInt8]?) async throws(SessionFailure) -> Reply {
        var redirects = 0
        var challengesAnswered = 0
        while true {
            guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), scheme == "http" || scheme == "https", parsed.host != nil
            else { throw SessionFailure("invalid ACS URL \"\(url)\"") }
            var target = parsed.path.isEmpty ? "/" : parsed.path
            if let query = parsed.query { target += "?" + query }

            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "User-Agent", value: userAgent)
            if let body {
                request.headers.add(name: "Content-Type", value: "text/xml; charset=\"utf-8\"")
                request.headers.add(name: "SOAPAction", value: "")
                request.body = .bytes(ByteBuffer(bytes: body))
            } else {
                request.body = .bytes(ByteBuffer())
            }
            if !cookies.isEmpty {
                request.headers.add(name: "Cookie", value: cookies.map { "\($0.name)=\($0.value)" }.joined(separator: "; "))
            }
            if let authorization = authorization(uri: target) {
                request.headers.add(name: "Authorization", value: authorization)
            }

            let status: Int
            let headers: HTTPHeaders
            let bytes: [UInt8]
            do {
                let response = try await client.execute(request, timeout: TimeAmount(timeout))
                status = Int(response.status.code)
                headers = response.headers
                var buffer = try await response.body.collect(upTo: 8 * 1024 * 1024)
                bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
            } catch {
                throw SessionFailure("no answer from \(url): \(Self.describe(error))")
            }
            storeCookies(headers["Set-Cookie"])

            switch status {
            case 401:
                challengesAnswered += 1
                let challenges = headers["WWW-Authenticate"]
                guard challengesAnswered <= 2 else {
                    throw SessionFailure("the ACS refused the credentials of \(username.isEmpty ? "(no username)" : username)", status: 401)
                }
                if challenges.contains(where: { DigestChallenge(headerValue: $0) != nil }) {
                    digestChallenges = challenges
                    useBasic = false
                    authenticationScheme = "Digest"
                } else if challenges.contains(where: { $0.lowercased().hasPrefix("basic") }) {
                    useBasic = true
                    authenticationScheme = "Basic"
                } else {
                    throw SessionFailure("HTTP 401 without a Digest or Basic challenge", status: 401)
                }
            case 301, 302, 303, 307, 308:
                redirects += 1
                guard redirects <= 5, let location = headers.first(name: "Location"), let next = URL(string: location, relativeTo: parsed)
                else { throw SessionFailure("HTTP \(status) redirect without a usable Location, or more than 5", status: status) }
                url = next.absoluteString
            case 503:
                throw SessionFailure("ACS unavailable (HTTP 503)", status: 503, retryAfter: Self.retryAfter(headers.first(name: "Retry-After")))
            case 204:
                return .empty
            case 200:
                if CWMPDecoder.isEmptyBody(bytes) { return .empty }
                let charset = headers.first(name: "Content-Type").flatMap(Self.charset)
                do throws(CWMPDecodingError) {
                    return .envelope(try decoder.decode(bytes, from: .acs, encoding: charset))
                } catch {
                    return .undecodable(error)
                }
            default:
                throw SessionFailure("HTTP \(status) from the ACS", status: status)
            }
        }
    }

    private mutating func authorization(uri: String) -> String? {
        if useBasic { return BasicCredentials(username: username, password: password).headerValue }
        guard let challenges = digestChallenges else { return nil }
        return digest.authorization(for: challenges, method: "POST", uri: uri)
    }

    /// Keeps `name=value` of each `Set-Cookie`, replacing a cookie of the same name; attributes
    /// (Path, Expires, ...) are ignored, as CPEs do within one session.
    private mutating func storeCookies(_ values: [String]) {
        for value in values {
            let pair = value.split(separator: ";", maxSplits: 1).first.map(String.init) ?? value
            guard let equals = pair.firstIndex(of: "=") else { continue }
            let name = pair[..<equals].trimmingCharacters(in: .whitespaces)
            let cookieValue = pair[pair.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty else { continue }
            cookies.removeAll { $0.name == name }
            cookies.append((name, cookieValue))
        }
    }

    static func charset(_ contentType: String) -> String? {
        for part in contentType.split(separator: ";").dropFirst() {
            let pieces = part.split(separator: "=", maxSplits: 1)
            if pieces.count == 2, pieces[0].trimmingCharacters(in: .whitespaces).lowercased() == "charset" {
                return pieces[1].trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
            }
        }
        return nil
    }

    /// `Retry-After` as delay-seconds or an HTTP-date.
    static func retryAfter(_ value: String?) -> Duration? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = Int(value), seconds >= 0 { return .seconds(seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return .milliseconds(Int64(max(0, date.timeIntervalSinceNow) * 1000))
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            if error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout { return "timed out" }
        }
        return "\(error)"
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
