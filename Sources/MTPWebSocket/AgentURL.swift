/// A `ws://` or `wss://` URL of an agent's WebSocket server, split into what the dialer needs.
struct AgentURL: Hashable, Sendable, CustomStringConvertible {
    var isSecure: Bool
    var host: String
    var port: Int
    /// Path and query, as sent in the request line (`/usp?x=1`).
    var target: String

    /// Parses `ws://host[:port][/path][?query]` (or `wss://`); IPv6 hosts in brackets.
    init?(_ string: String) {
        let scheme: Substring
        let rest: Substring
        guard let separator = string.firstRange(of: "://") else { return nil }
        scheme = string[..<separator.lowerBound]
        rest = string[separator.upperBound...]
        switch scheme.lowercased() {
        case "ws": isSecure = false
        case "wss": isSecure = true
        default: return nil
        }
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        var target = String(rest[authorityEnd...])
        if let fragment = target.firstIndex(of: "#") { target = String(target[..<fragment]) }
        if target.isEmpty || target.first == "?" { target = "/" + target }
        self.target = target

        var portText: Substring?
        if authority.first == "[" {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let afterHost = authority[authority.index(after: close)...]
            if afterHost.first == ":" { portText = afterHost.dropFirst() } else if !afterHost.isEmpty { return nil }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            portText = authority[authority.index(after: colon)...]
        } else {
            host = String(authority)
        }
        guard !host.isEmpty else { return nil }
        if let portText {
            guard let port = Int(portText), (1...65535).contains(port) else { return nil }
            self.port = port
        } else {
            port = isSecure ? 443 : 80
        }
    }

    /// The `Host` header value.
    var hostHeader: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return port == (isSecure ? 443 : 80) ? host : "\(host):\(port)"
    }

    /// Whether `host` is an IP literal (no SNI for those).
    var hostIsIPAddress: Bool {
        host.contains(":") || host.allSatisfy { $0.isNumber || $0 == "." }
    }

    var description: String { "\(isSecure ? "wss" : "ws")://\(hostHeader)\(target)" }
}
