/// A `host:port` a listener binds to. IPv6 hosts are written in brackets (`[::1]:8080`). Port 0 asks
/// the system for a free port (tests use it).
public struct ListenAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`; the error text says what is wrong.
    public init(parsing text: String) throws(ConfigurationError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let host: Substring
        let portText: Substring
        if trimmed.hasPrefix("[") {
            guard let close = trimmed.firstIndex(of: "]"), trimmed[trimmed.index(after: close)...].hasPrefix(":") else {
                throw ConfigurationError(key: nil, "\"\(text)\" is not [IPv6]:port")
            }
            host = trimmed[trimmed.index(after: trimmed.startIndex)..<close]
            portText = trimmed[trimmed.index(close, offsetBy: 2)...]
        } else {
            guard let colon = trimmed.lastIndex(of: ":") else {
                throw ConfigurationError(key: nil, "\"\(text)\" has no port (expected host:port)")
            }
            host = trimmed[..<colon]
            portText = trimmed[trimmed.index(after: colon)...]
            if host.contains(":") { throw ConfigurationError(key: nil, "\"\(text)\": write IPv6 hosts in brackets, [::1]:8080") }
        }
        guard !host.isEmpty else { throw ConfigurationError(key: nil, "\"\(text)\" has no host") }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw ConfigurationError(key: nil, "\"\(text)\" has no valid port (0 to 65535)")
        }
        self.init(host: String(host), port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A broker URL: `mqtt://host:port`, `mqtts://host:port`, `stomp://host:port`, `stomps://host:port`.
public struct BrokerURL: Hashable, Sendable, CustomStringConvertible {
    public var scheme: String
    public var host: String
    public var port: Int

    public var usesTLS: Bool { scheme.hasSuffix("s") }

    public init(parsing text: String, schemes: [String: Int]) throws(ConfigurationError) {
        guard let range = text.range(of: "://") else {
            throw ConfigurationError(key: nil, "\"\(text)\" is not a URL (expected \(schemes.keys.sorted().map { "\($0)://HOST:PORT" }.joined(separator: " or ")))")
        }
        let scheme = String(text[..<range.lowerBound]).lowercased()
        guard let defaultPort = schemes[scheme] else {
            throw ConfigurationError(key: nil, "\"\(text)\" has scheme \(scheme); expected one of \(schemes.keys.sorted().joined(separator: ", "))")
        }
        var rest = String(text[range.upperBound...])
        if rest.hasSuffix("/") { rest.removeLast() }
        guard !rest.isEmpty, !rest.contains("/"), !rest.contains("@") else {
            throw ConfigurationError(key: nil, "\"\(text)\" must be scheme://host[:port] with no path or credentials")
        }
        if rest.contains(":") && !(rest.hasPrefix("[") && rest.hasSuffix("]")) {
            let address = try ListenAddress(parsing: rest)
            self.init(scheme: scheme, host: address.host, port: address.port)
        } else {
            self.init(scheme: scheme, host: rest.trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port: defaultPort)
        }
        guard port > 0 else { throw ConfigurationError(key: nil, "\"\(text)\" has port 0") }
    }

    init(scheme: String, host: String, port: Int) {
        self.scheme = scheme
        self.host = host
        self.port = port
    }

    public var description: String { "\(scheme)://\(host.contains(":") ? "[\(host)]" : host):\(port)" }
}

import Foundation
