import Crypto
import Foundation

/// The hash algorithms of HTTP Digest (RFC 7616 section 3.3). TR-069 Amendment 6 follows RFC 7616;
/// CPEs in the field mostly know MD5 only, so both are offered.
public enum DigestAlgorithm: String, Sendable, CaseIterable {
    case md5 = "MD5"
    case md5Session = "MD5-sess"
    case sha256 = "SHA-256"
    case sha256Session = "SHA-256-sess"

    /// Case-insensitive, as RFC 7616 allows; a missing algorithm means MD5.
    public init?(headerValue: String?) {
        guard let headerValue else {
            self = .md5
            return
        }
        guard let match = DigestAlgorithm.allCases.first(where: { $0.rawValue.caseInsensitiveCompare(headerValue) == .orderedSame }) else {
            return nil
        }
        self = match
    }

    var isSession: Bool { self == .md5Session || self == .sha256Session }

    func hash(_ text: String) -> String {
        let data = Data(text.utf8)
        switch self {
        case .md5, .md5Session: return Insecure.MD5.hash(data: data).hexString
        case .sha256, .sha256Session: return SHA256.hash(data: data).hexString
        }
    }
}

/// The computation of a digest `response` (RFC 7616 section 3.4.1), shared by the server's check
/// and the client's answer.
public enum DigestComputation {
    /// - Parameter qop: `auth`, or nil for the RFC 2069 form some old CPEs still use.
    public static func response(
        algorithm: DigestAlgorithm, username: String, password: String, realm: String, method: String, uri: String,
        nonce: String, nc: String?, cnonce: String?, qop: String?
    ) -> String {
        var ha1 = algorithm.hash("\(username):\(realm):\(password)")
        if algorithm.isSession { ha1 = algorithm.hash("\(ha1):\(nonce):\(cnonce ?? "")") }
        let ha2 = algorithm.hash("\(method):\(uri)")
        if let qop {
            return algorithm.hash("\(ha1):\(nonce):\(nc ?? ""):\(cnonce ?? ""):\(qop):\(ha2)")
        }
        return algorithm.hash("\(ha1):\(nonce):\(ha2)")
    }
}

/// A `WWW-Authenticate: Digest ...` challenge.
public struct DigestChallenge: Sendable, Hashable {
    public var realm: String
    public var nonce: String
    public var opaque: String?
    public var algorithm: DigestAlgorithm
    /// Offered qop values (`auth`, `auth-int`); empty for an RFC 2069 challenge.
    public var qop: [String]
    public var stale: Bool

    public init(realm: String, nonce: String, opaque: String? = nil, algorithm: DigestAlgorithm = .md5, qop: [String] = ["auth"], stale: Bool = false) {
        self.realm = realm
        self.nonce = nonce
        self.opaque = opaque
        self.algorithm = algorithm
        self.qop = qop
        self.stale = stale
    }

    /// Parses one challenge; nil when it is not a well-formed Digest challenge.
    public init?(headerValue: String) {
        guard let (scheme, p) = AuthParameterParser.parse(headerValue), scheme == "digest",
            let realm = p["realm"], let nonce = p["nonce"], let algorithm = DigestAlgorithm(headerValue: p["algorithm"])
        else { return nil }
        self.init(
            realm: realm, nonce: nonce, opaque: p["opaque"], algorithm: algorithm,
            qop: p["qop"].map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? [],
            stale: p["stale"]?.lowercased() == "true")
    }

    public var headerValue: String {
        var parts = ["realm=\(AuthParameterParser.quote(realm))"]
        if !qop.isEmpty { parts.append("qop=\(AuthParameterParser.quote(qop.joined(separator: ", ")))") }
        parts.append("algorithm=\(algorithm.rawValue)")
        parts.append("nonce=\(AuthParameterParser.quote(nonce))")
        if let opaque { parts.append("opaque=\(AuthParameterParser.quote(opaque))") }
        if stale { parts.append("stale=true") }
        return "Digest " + parts.joined(separator: ", ")
    }
}

/// An `Authorization: Digest ...` answer.
public struct DigestAuthorization: Sendable, Hashable {
    public var username: String
    public var realm: String
    public var nonce: String
    public var uri: String
    public var response: String
    public var algorithm: DigestAlgorithm
    public var qop: String?
    public var nc: String?
    public var cnonce: String?
    public var opaque: String?

    public init(
        username: String, realm: String, nonce: String, uri: String, response: String, algorithm: DigestAlgorithm,
        qop: String?, nc: String?, cnonce: String?, opaque: String?
    ) {
        self.username = username
        self.realm = realm
        self.nonce = nonce
        self.uri = uri
        self.response = response
        self.algorithm = algorithm
        self.qop = qop
        self.nc = nc
        self.cnonce = cnonce
        self.opaque = opaque
    }

    /// Parses the parameters of a Digest `Authorization` header; nil when required ones are missing.
    public init?(headerValue: String) {
        guard let (scheme, p) = AuthParameterParser.parse(headerValue), scheme == "digest",
            let username = p["username"], let realm = p["realm"], let nonce = p["nonce"], let uri = p["uri"],
            let response = p["response"], let algorithm = DigestAlgorithm(headerValue: p["algorithm"])
        else { return nil }
        // With qop, nc and cnonce are required (RFC 7616 section 3.4).
        if p["qop"] != nil && (p["nc"] == nil || p["cnonce"] == nil) { return nil }
        self.init(
            username: username, realm: realm, nonce: nonce, uri: uri, response: response, algorithm: algorithm,
            qop: p["qop"], nc: p["nc"], cnonce: p["cnonce"], opaque: p["opaque"])
    }

    public var headerValue: String {
        var parts = [
            "username=\(AuthParameterParser.quote(username))", "realm=\(AuthParameterParser.quote(realm))",
            "nonce=\(AuthParameterParser.quote(nonce))", "uri=\(AuthParameterParser.quote(uri))",
            "algorithm=\(algorithm.rawValue)", "response=\(AuthParameterParser.quote(response))",
        ]
        if let qop { parts.append("qop=\(qop)") }
        if let nc { parts.append("nc=\(nc)") }
        if let cnonce { parts.append("cnonce=\(AuthParameterParser.quote(cnonce))") }
        if let opaque { parts.append("opaque=\(AuthParameterParser.quote(opaque))") }
        return "Digest " + parts.joined(separator: ", ")
    }

    /// Whether `response` is right for `password` and `method`, compared in constant time.
    public func isValid(password: String, method: String) -> Bool {
        let expected = DigestComputation.response(
            algorithm: algorithm, username: username, password: password, realm: realm, method: method, uri: uri,
            nonce: nonce, nc: nc, cnonce: cnonce, qop: qop)
        return constantTimeEqual(expected, response.lowercased())
    }
}

/// Compares two strings without an early exit, so timing does not reveal the matching prefix.
public func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    var difference = UInt8(x.count == y.count ? 0 : 1)
    for index in 0..<max(x.count, y.count) {
        difference |= (index < x.count ? x[index] : 0) ^ (index < y.count ? y[index] : 0)
    }
    return difference == 0
}

extension Sequence where Element == UInt8 {
    var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
