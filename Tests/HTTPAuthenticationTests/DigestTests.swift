import Foundation
import HTTPAuthentication
import Testing

@Suite struct DigestTests {
    // RFC 7616 section 3.9.1.
    static let rfcNonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
    static let rfcCnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"

    @Test(arguments: [
        (DigestAlgorithm.md5, "8ca523f5e9506fed4657c9700eebdbec"),
        (.sha256, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ])
    func matchesTheRFC7616Example(algorithm: DigestAlgorithm, expected: String) {
        let response = DigestComputation.response(
            algorithm: algorithm, username: "Mufasa", password: "Circle of Life", realm: "http-auth@example.org", method: "GET",
            uri: "/dir/index.html", nonce: Self.rfcNonce, nc: "00000001", cnonce: Self.rfcCnonce, qop: "auth")
        #expect(response == expected)
    }

    @Test func clientAnswersTheRFCChallengePreferringSHA256() throws {
        var client = DigestClient(username: "Mufasa", password: "Circle of Life")
        let challenges = [
            #"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, nonce="\#(Self.rfcNonce)", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#,
            #"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="\#(Self.rfcNonce)", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#,
        ]
        let headerValue = client.authorization(for: challenges, method: "GET", uri: "/dir/index.html", cnonce: Self.rfcCnonce)
        let header = try #require(headerValue)
        let parsed = try #require(DigestAuthorization(headerValue: header))
        #expect(parsed.algorithm == .sha256)
        #expect(parsed.response == "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")
        #expect(parsed.nc == "00000001")
        #expect(parsed.opaque == "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")
        // The next request on the same nonce counts up.
        let secondValue = client.authorization(for: challenges, method: "GET", uri: "/dir/index.html")
        let second = try #require(secondValue)
        #expect(DigestAuthorization(headerValue: second)?.nc == "00000002")
    }

    @Test func clientAnswersLegacyRFC2069Challenges() throws {
        var client = DigestClient(username: "cr", password: "secret")
        let headerValue = client.authorization(for: [#"Digest realm="IGD", nonce="abc""#], method: "GET", uri: "/")
        let header = try #require(headerValue)
        let parsed = try #require(DigestAuthorization(headerValue: header))
        #expect(parsed.qop == nil && parsed.nc == nil && parsed.cnonce == nil)
        #expect(parsed.isValid(password: "secret", method: "GET"))
        #expect(!parsed.isValid(password: "wrong", method: "GET"))
        let basic = client.authorization(for: [#"Basic realm="x""#], method: "GET", uri: "/")
        #expect(basic == nil)
        let authInt = client.authorization(for: [#"Digest realm="x", nonce="n", qop="auth-int""#], method: "GET", uri: "/")
        #expect(authInt == nil)
    }

    @Test func serverAcceptsRightAnswersOnly() throws {
        let server = DigestServer(realm: "tandem")
        let now = Date()
        let challenges = server.challenges(now: now)
        #expect(challenges.count == 2)
        #expect(challenges[0].contains("algorithm=SHA-256") && challenges[1].contains("algorithm=MD5"))
        for index in challenges.indices {
            var client = DigestClient(username: "00D09E-IGD-1", password: "pw")
            let headerValue = client.authorization(for: [challenges[index]], method: "POST", uri: "/cwmp")
        let header = try #require(headerValue)
            #expect(server.verify(authorization: header, method: "POST", now: now) { $0 == "00D09E-IGD-1" ? "pw" : nil } == .accepted(username: "00D09E-IGD-1"))
            #expect(server.verify(authorization: header, method: "POST", now: now) { _ in "other" } == .rejected("wrong response"))
            #expect(server.verify(authorization: header, method: "POST", now: now) { _ in nil } == .rejected("unknown user"))
            #expect(server.verify(authorization: header, method: "GET", now: now) { _ in "pw" } == .rejected("wrong response"))
            #expect(server.verify(authorization: header, method: "POST", now: now.addingTimeInterval(301)) { _ in "pw" } == .stale)
        }
        // A nonce from another server (another key) is not accepted.
        var client = DigestClient(username: "u", password: "pw")
        let foreignValue = client.authorization(for: DigestServer(realm: "tandem").challenges(), method: "POST", uri: "/")
        let foreign = try #require(foreignValue)
        #expect(server.verify(authorization: foreign, method: "POST") { _ in "pw" } == .rejected("nonce not issued here"))
        #expect(server.verify(authorization: "Digest nonsense", method: "POST") { _ in "pw" } == .rejected("malformed Digest authorization"))
        #expect(server.verify(authorization: #"Digest username="u", realm="tandem", nonce="x", uri="/", response="0", qop=auth"#, method: "POST") { _ in "pw" }
            == .rejected("malformed Digest authorization"))  // qop without nc and cnonce
    }

    @Test(arguments: [
        "", "Digest", "Digest realm", "Digest realm=", #"Digest realm="unterminated"#, #"Digest realm="a", realm="b""#,
        #"Digest realm="a" nonce="b""#, #"Digest realm="x", nonce="n", algorithm=ROT13"#,
    ])
    func malformedChallengesAreRefused(_ header: String) {
        #expect(DigestChallenge(headerValue: header) == nil)
    }

    @Test func challengeRoundTripWithEscapes() throws {
        let challenge = DigestChallenge(realm: #"a "quoted" \ realm"#, nonce: "n0", opaque: "o", algorithm: .sha256Session, qop: ["auth"], stale: true)
        #expect(DigestChallenge(headerValue: challenge.headerValue) == challenge)
    }

    @Test func basicCredentials() {
        let credentials = BasicCredentials(username: "user", password: "p:a:ss")
        #expect(credentials.headerValue == "Basic dXNlcjpwOmE6c3M=")
        #expect(BasicCredentials(headerValue: credentials.headerValue) == credentials)
        #expect(BasicCredentials(headerValue: "basic dXNlcjpwOmE6c3M=") == credentials)
        for bad in ["", "Basic", "Basic !!!", "Bearer abc", "Basic \(Data("nocolon".utf8).base64EncodedString())"] {
            #expect(BasicCredentials(headerValue: bad) == nil)
        }
    }

    @Test func constantTimeComparison() {
        #expect(constantTimeEqual("abc", "abc"))
        #expect(!constantTimeEqual("abc", "abd"))
        #expect(!constantTimeEqual("abc", "abcd"))
        #expect(!constantTimeEqual("", "a"))
    }
}
