import HTTPTypes
import Testing

@testable import MTPWebSocket

/// The handshake rules without sockets.
@Suite("WebSocket binding handshake rules")
struct USPWebSocketHandshakeTests {
    @Test("v1.usp is found in any Sec-WebSocket-Protocol line or list, case-sensitively")
    func offersUSP() {
        #expect(USPWebSocketHandshake.offersUSP([.secWebSocketProtocol: "v1.usp"]))
        #expect(USPWebSocketHandshake.offersUSP([.secWebSocketProtocol: "chat, v1.usp"]))
        var twoLines = HTTPFields()
        twoLines.append(HTTPField(name: .secWebSocketProtocol, value: "chat"))
        twoLines.append(HTTPField(name: .secWebSocketProtocol, value: " v1.usp "))
        #expect(USPWebSocketHandshake.offersUSP(twoLines))
        #expect(!USPWebSocketHandshake.offersUSP([.secWebSocketProtocol: "V1.USP"]))
        #expect(!USPWebSocketHandshake.offersUSP([.secWebSocketProtocol: "v1.usp2"]))
        #expect(!USPWebSocketHandshake.offersUSP([:]))
    }

    @Test("eid query parameter: percent-decoded, first one wins, malformed refused (R-WS.10b, R-WS.10c)")
    func queryEndpointID() {
        func eid(_ query: String?) -> USPWebSocketHandshake.QueryEndpointID {
            USPWebSocketHandshake.queryEndpointID(query.map { Substring($0) })
        }
        #expect(eid(nil) == .absent)
        #expect(eid("x=1") == .absent)
        #expect(eid("eid=os::00256D-1") == .present("os::00256D-1"))
        #expect(eid("a=b&eid=proto%3A%3Ax%2541&eid=other") == .present("proto::x%41"))
        #expect(eid("eid=a+b") == .present("a+b"))
        #expect(eid("eid=%C3%A9") == .present("é"))
        #expect(eid("eid=") == .invalid)
        #expect(eid("eid") == .invalid)
        #expect(eid("eid=%2") == .invalid)
        #expect(eid("eid=%zz") == .invalid)
        #expect(eid("eid=%FF") == .invalid)
        #expect(eid("xeid=a") == .absent)
    }

    @Test("eid is encoded so that it decodes back, with % as %25")
    func encodeRoundTrip() {
        for original in ["os::00256D-0001", "self::ctrl%x", "proto::a&b=c d+e;f#g", "uuid::é", "fqdn::www.example.org"] {
            let encoded = USPWebSocketHandshake.percentEncodeQueryValue(original)
            #expect(!encoded.contains("&") && !encoded.contains("=") && !encoded.contains(" ") && !encoded.contains("#"))
            #expect(USPWebSocketHandshake.queryEndpointID(Substring("eid=" + encoded)) == .present(original))
        }
        #expect(USPWebSocketHandshake.percentEncodeQueryValue("self::ctrl%x") == "self::ctrl%25x")
    }

    @Test("eid is appended to the request target with & (R-WS.10b)")
    func appendingEndpointID() {
        #expect(USPWebSocketHandshake.appendingEndpointID("self::c", to: "/usp") == "/usp?eid=self::c")
        #expect(USPWebSocketHandshake.appendingEndpointID("self::c", to: "/usp?x=1") == "/usp?x=1&eid=self::c")
        #expect(USPWebSocketHandshake.appendingEndpointID("self::c", to: "/usp?") == "/usp?eid=self::c")
        #expect(USPWebSocketHandshake.appendingEndpointID("self::c", to: "") == "/?eid=self::c")
    }

    @Test("bbf-usp-protocol extension: eid read from quoted or bare values, among other extensions")
    func extensionEndpointID() {
        func eid(_ values: String...) -> String?? {
            var fields = HTTPFields()
            for value in values { fields.append(HTTPField(name: .secWebSocketExtensions, value: value)) }
            return USPWebSocketHandshake.extensionEndpointID(fields)
        }
        #expect(eid() == .none)
        #expect(eid("permessage-deflate") == .none)
        #expect(eid("bbf-usp-protocol; eid=\"os::a\"") == .some("os::a"))
        #expect(eid("permessage-deflate; client_max_window_bits, bbf-usp-protocol;eid=os::b") == .some("os::b"))
        #expect(eid("permessage-deflate", "bbf-usp-protocol; eid=\"a,b;c\\\"d\"") == .some("a,b;c\"d"))
        #expect(eid("bbf-usp-protocol") == .some(nil))
        #expect(USPWebSocketHandshake.extensionHeaderValue(endpointID: "self::\"x\"") == "bbf-usp-protocol; eid=\"self::\\\"x\\\"\"")
    }

    @Test("request targets split into path and query")
    func splitTarget() {
        let (path, query) = USPWebSocketHandshake.splitTarget("/usp?eid=a#frag")
        #expect(path == "/usp")
        #expect(query == "eid=a")
        let bare = USPWebSocketHandshake.splitTarget("/usp")
        #expect(bare.path == "/usp" && bare.query == nil)
    }

    @Test("agent URLs: scheme, host, port, target")
    func agentURL() throws {
        let plain = try #require(AgentURL("ws://192.0.2.1:8080/usp?x=1#f"))
        #expect(!plain.isSecure && plain.host == "192.0.2.1" && plain.port == 8080 && plain.target == "/usp?x=1")
        #expect(plain.hostIsIPAddress)
        let secure = try #require(AgentURL("WSS://agent.example.org"))
        #expect(secure.isSecure && secure.port == 443 && secure.target == "/" && secure.hostHeader == "agent.example.org")
        #expect(!secure.hostIsIPAddress)
        let v6 = try #require(AgentURL("ws://[::1]:9000?eid=x"))
        #expect(v6.host == "::1" && v6.port == 9000 && v6.target == "/?eid=x" && v6.hostHeader == "[::1]:9000")
        #expect(AgentURL("http://agent/usp") == nil)
        #expect(AgentURL("ws://:80/") == nil)
        #expect(AgentURL("ws://agent:0/") == nil)
        #expect(AgentURL("ws://agent:http/") == nil)
    }

    @Test("redial backoff grows, is capped and jittered downwards")
    func retryDelay() {
        let dialing = WebSocketTransportConfiguration.Dialing(
            initialRetryInterval: .seconds(1), maxRetryInterval: .seconds(60), retryMultiplier: 2)
        for _ in 0..<20 {
            let first = dialing.retryDelay(attempt: 0)
            #expect(first >= .milliseconds(750) && first <= .seconds(1))
            let third = dialing.retryDelay(attempt: 2)
            #expect(third >= .milliseconds(3000) && third <= .seconds(4))
            let late = dialing.retryDelay(attempt: 1000)
            #expect(late >= .seconds(45) && late <= .seconds(60))
        }
    }
}
