import Crypto
import Foundation

/// REST API bearer tokens: `tdm_<id>_<secret>`. The id finds the stored token in one index probe;
/// only a SHA-256 hash of the secret is stored, and it is compared in constant time.
public struct BearerToken: Sendable, Hashable {
    public let id: Int64
    public let secret: String

    public init(id: Int64, secret: String) {
        self.id = id
        self.secret = secret
    }

    /// A new random secret: 32 bytes from the system's generator, base64url without padding.
    public static func makeSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Parses `tdm_<id>_<secret>`, or an `Authorization: Bearer tdm_...` header value.
    public init?(_ text: String) {
        var value = text.trimmingCharacters(in: .whitespaces)
        if value.lowercased().hasPrefix("bearer ") { value = String(value.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
        let parts = value.split(separator: "_", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "tdm", let id = Int64(parts[1]), id > 0, parts[2].count >= 16, parts[2].count <= 128 else { return nil }
        self.init(id: id, secret: String(parts[2]))
    }

    public var text: String { "tdm_\(id)_\(secret)" }

    /// The stored form of a secret.
    public static func hash(_ secret: String) -> String {
        SHA256.hash(data: Data(secret.utf8)).hexString
    }

    /// Whether this token's secret hashes to `storedHash`, compared in constant time.
    public func matches(storedHash: String) -> Bool {
        constantTimeEqual(Self.hash(secret), storedHash)
    }
}
