import Crypto
import Foundation

/// Issues Digest challenges and checks answers without keeping per-client state: a nonce is its
/// issue time plus an HMAC of it under a per-process key, so any nonce this process issued is
/// recognised and an expired one is answered with `stale=true` (RFC 7616 section 3.3).
public struct DigestServer: Sendable {
    public let realm: String
    public let nonceLifetime: TimeInterval
    /// The algorithms offered, strongest first; clients pick the first they support.
    public let algorithms: [DigestAlgorithm]
    private let key: SymmetricKey
    private let opaque: String

    public init(realm: String, nonceLifetime: TimeInterval = 300, algorithms: [DigestAlgorithm] = [.sha256, .md5], key: SymmetricKey = SymmetricKey(size: .bits256)) {
        self.realm = realm
        self.nonceLifetime = nonceLifetime
        self.algorithms = algorithms
        self.key = key
        self.opaque = Data(HMAC<SHA256>.authenticationCode(for: Data("opaque".utf8), using: key).prefix(12)).base64EncodedString()
    }

    /// The `WWW-Authenticate` header values to send with a 401, one per algorithm.
    public func challenges(stale: Bool = false, now: Date = Date()) -> [String] {
        let nonce = makeNonce(now: now)
        return algorithms.map {
            DigestChallenge(realm: realm, nonce: nonce, opaque: opaque, algorithm: $0, qop: ["auth"], stale: stale).headerValue
        }
    }

    /// The outcome of checking an `Authorization` header.
    public enum Verdict: Equatable, Sendable {
        case accepted(username: String)
        /// Right credentials on an expired nonce: challenge again with `stale=true`.
        case stale
        case rejected(String)
    }

    /// Checks a Digest answer. `password(username)` returns the expected password, or nil for an
    /// unknown user.
    public func verify(authorization header: String, method: String, now: Date = Date(), password: (String) -> String?) -> Verdict {
        guard let answer = DigestAuthorization(headerValue: header) else { return .rejected("malformed Digest authorization") }
        guard answer.realm == realm else { return .rejected("wrong realm") }
        guard algorithms.contains(answer.algorithm) else { return .rejected("algorithm \(answer.algorithm.rawValue) not offered") }
        guard answer.qop == nil || answer.qop == "auth" else { return .rejected("qop \(answer.qop!) not offered") }
        guard let issued = nonceIssueTime(answer.nonce) else { return .rejected("nonce not issued here") }
        guard let expected = password(answer.username) else { return .rejected("unknown user") }
        guard answer.isValid(password: expected, method: method) else { return .rejected("wrong response") }
        if now.timeIntervalSince(issued) > nonceLifetime || issued.timeIntervalSince(now) > 60 { return .stale }
        return .accepted(username: answer.username)
    }

    func makeNonce(now: Date) -> String {
        var time = UInt64(max(0, now.timeIntervalSince1970)).bigEndian
        let stamp = withUnsafeBytes(of: &time) { Data($0) }
        let tag = HMAC<SHA256>.authenticationCode(for: stamp, using: key)
        return (stamp + Data(tag.prefix(16))).base64EncodedString()
    }

    func nonceIssueTime(_ nonce: String) -> Date? {
        guard let data = Data(base64Encoded: nonce), data.count == 24 else { return nil }
        let stamp = data.prefix(8)
        let tag = HMAC<SHA256>.authenticationCode(for: stamp, using: key)
        guard constantTimeEqual(Data(tag.prefix(16)).base64EncodedString(), data.suffix(16).base64EncodedString()) else { return nil }
        let seconds = stamp.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }
}

/// Answers Digest challenges as a client (connection requests to CPEs, the simulator's Informs).
public struct DigestClient: Sendable {
    public var username: String
    public var password: String
    private var nonceCount: UInt32 = 0
    private var lastNonce = ""

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    /// Picks the strongest Digest challenge among `headerValues` and returns the `Authorization`
    /// value answering it, or nil when none is a Digest challenge this client can answer.
    public mutating func authorization(for headerValues: [String], method: String, uri: String, cnonce: String = DigestClient.makeCnonce()) -> String? {
        let challenges = headerValues.compactMap(DigestChallenge.init(headerValue:))
        let preference: [DigestAlgorithm] = [.sha256, .sha256Session, .md5, .md5Session]
        guard let challenge = challenges.min(by: { preference.firstIndex(of: $0.algorithm)! < preference.firstIndex(of: $1.algorithm)! }) else {
            return nil
        }
        let qop: String? = challenge.qop.isEmpty ? nil : (challenge.qop.contains("auth") ? "auth" : nil)
        if !challenge.qop.isEmpty && qop == nil { return nil }  // only auth-int offered
        if challenge.nonce != lastNonce {
            lastNonce = challenge.nonce
            nonceCount = 0
        }
        nonceCount += 1
        let nc = qop == nil ? nil : String(format: "%08x", nonceCount)
        let response = DigestComputation.response(
            algorithm: challenge.algorithm, username: username, password: password, realm: challenge.realm, method: method, uri: uri,
            nonce: challenge.nonce, nc: nc, cnonce: qop == nil ? nil : cnonce, qop: qop)
        return DigestAuthorization(
            username: username, realm: challenge.realm, nonce: challenge.nonce, uri: uri, response: response, algorithm: challenge.algorithm,
            qop: qop, nc: nc, cnonce: qop == nil ? nil : cnonce, opaque: challenge.opaque
        ).headerValue
    }

    public static func makeCnonce() -> String {
        Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
    }
}

/// HTTP Basic credentials (RFC 7617). TR-069 allows Basic only over TLS (3.4.4).
public struct BasicCredentials: Sendable, Hashable {
    public var username: String
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    /// Parses `Basic base64(user:password)`; nil when malformed.
    public init?(headerValue: String) {
        let trimmed = headerValue.trimmingCharacters(in: .whitespaces)
        guard trimmed.count > 6, trimmed.prefix(6).lowercased() == "basic ",
            let data = Data(base64Encoded: String(trimmed.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
            let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else { return nil }
        self.init(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
    }

    public var headerValue: String { "Basic " + Data("\(username):\(password)".utf8).base64EncodedString() }

    public static func challenge(realm: String) -> String { "Basic realm=\(AuthParameterParser.quote(realm)), charset=\"UTF-8\"" }
}
