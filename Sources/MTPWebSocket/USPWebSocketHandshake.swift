import HTTPTypes

/// The USP-specific parts of the WebSocket opening handshake (TR-369 "WebSocket Binding"): the
/// `v1.usp` subprotocol, the `eid` query parameter and the `bbf-usp-protocol` extension.
///
/// Pure functions over header and URI text so that both the listener and the dialer use the same
/// rules, and so that the rules can be tested without sockets.
enum USPWebSocketHandshake {
    /// The subprotocol for USP Records encoded with protocol buffers (R-WS.9).
    static let subprotocol = "v1.usp"
    /// The WebSocket extension that carries an endpoint ID in its `eid` parameter.
    static let extensionName = "bbf-usp-protocol"

    /// Whether a `Sec-WebSocket-Protocol` header (any number of field lines, each a comma-separated
    /// list) names `v1.usp`. Subprotocol tokens are case-sensitive (RFC 6455 section 4.1).
    static func offersUSP(_ fields: HTTPFields) -> Bool {
        fields[values: .secWebSocketProtocol].contains { line in
            line.split(separator: ",").contains { $0.trimmingSpaces() == subprotocol }
        }
    }

    /// The `eid` parameter of the `bbf-usp-protocol` extension in `Sec-WebSocket-Extensions`, if
    /// the peer sent the extension. `.some(nil)` means the extension came without an `eid`.
    ///
    /// R-WS.10a (client sends it) is deprecated since USP 1.3, so its absence is never an error
    /// (R-WS.11b, R-WS.11c); older agents may still identify themselves this way.
    static func extensionEndpointID(_ fields: HTTPFields) -> String?? {
        for line in fields[values: .secWebSocketExtensions] {
            for offer in splitOutsideQuotes(line, separator: ",") {
                let parts = splitOutsideQuotes(offer, separator: ";")
                guard let name = parts.first, name.trimmingSpaces() == extensionName else { continue }
                for parameter in parts.dropFirst() {
                    let pair = parameter.split(separator: "=", maxSplits: 1)
                    guard pair.count == 2, pair[0].trimmingSpaces() == "eid" else { continue }
                    return .some(unquote(pair[1].trimmingSpaces()))
                }
                return .some(nil)
            }
        }
        return .none
    }

    /// The `Sec-WebSocket-Extensions` value announcing `endpointID` (R-WS.11a).
    static func extensionHeaderValue(endpointID: String) -> String {
        var escaped = ""
        for character in endpointID {
            if character == "\"" || character == "\\" { escaped.append("\\") }
            escaped.append(character)
        }
        return "\(extensionName); eid=\"\(escaped)\""
    }

    /// Splits a request target (`/usp?eid=...`) into its path and its raw query (without `?`).
    static func splitTarget(_ target: String) -> (path: Substring, query: Substring?) {
        let withoutFragment = target.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
        guard let mark = withoutFragment.firstIndex(of: "?") else { return (withoutFragment, nil) }
        return (withoutFragment[..<mark], withoutFragment[withoutFragment.index(after: mark)...])
    }

    /// What the `eid` query parameter says.
    enum QueryEndpointID: Equatable {
        /// No `eid` parameter.
        case absent
        /// The decoded endpoint ID.
        case present(String)
        /// An `eid` parameter that is empty, badly percent-encoded or not UTF-8.
        case invalid
    }

    /// The endpoint ID in the `eid` key=value pair of a raw query (R-WS.10b), percent-decoded
    /// (R-WS.10c: the EID is opaque in the URI, `%` travels as `%25`). The first `eid` wins; `+` is
    /// not a space here (RFC 3986 query, not HTML form encoding).
    static func queryEndpointID(_ query: Substring?) -> QueryEndpointID {
        guard let query else { return .absent }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let keyValue = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard keyValue[0] == "eid" else { continue }
            guard keyValue.count == 2, !keyValue[1].isEmpty, let decoded = percentDecode(keyValue[1]) else {
                return .invalid
            }
            return .present(decoded)
        }
        return .absent
    }

    /// Percent-decodes `text`; `nil` when a `%` is not followed by two hex digits or the bytes are
    /// not UTF-8.
    static func percentDecode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                return nil
            }
            bytes.append(high << 4 | low)
        }
        let decoded = String(decoding: bytes, as: UTF8.self)
        // `String(decoding:)` repairs invalid UTF-8; refuse instead of guessing.
        return decoded.utf8.elementsEqual(bytes) ? decoded : nil
    }

    /// Percent-encodes an endpoint ID for the `eid` query value (R-WS.10b, R-WS.10c): `%` becomes
    /// `%25`, and so does every byte that is not allowed in a query or that would end the key=value
    /// pair (`&`, `=`, `+`, `;`, `#`, spaces, non-ASCII). `:` and `/`, common in EIDs
    /// (`os::00256D-...`), stay readable; RFC 3986 allows them in a query.
    static func percentEncodeQueryValue(_ value: String) -> String {
        var encoded = ""
        encoded.reserveCapacity(value.utf8.count)
        for byte in value.utf8 {
            if isQueryValueSafe(byte) {
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                encoded.append("%")
                encoded.append(hexDigits[Int(byte >> 4)])
                encoded.append(hexDigits[Int(byte & 0x0F)])
            }
        }
        return encoded
    }

    /// `target` with `eid=<encoded endpointID>` appended to its query, separated from other query
    /// data by `&` (R-WS.10b).
    static func appendingEndpointID(_ endpointID: String, to target: String) -> String {
        let pair = "eid=" + percentEncodeQueryValue(endpointID)
        let (rawPath, query) = splitTarget(target)
        let path = rawPath.isEmpty ? "/" : String(rawPath)
        guard let query, !query.isEmpty else { return "\(path)?\(pair)" }
        return "\(path)?\(query)&\(pair)"
    }

    private static let hexDigits: [Character] = Array("0123456789ABCDEF")

    private static func isQueryValueSafe(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: ":"), UInt8(ascii: "@"),
            UInt8(ascii: "/"), UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"),
            UInt8(ascii: "*"), UInt8(ascii: ","):
            true
        default:
            false
        }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Splits on `separator` except inside double quotes (extension parameter values may be quoted
    /// strings, RFC 7230 section 3.2.6).
    private static func splitOutsideQuotes(_ text: some StringProtocol, separator: Character) -> [Substring] {
        let text = Substring(text)
        var parts: [Substring] = []
        var start = text.startIndex
        var inQuotes = false
        var escaped = false
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            if escaped {
                escaped = false
            } else if character == "\\" && inQuotes {
                escaped = true
            } else if character == "\"" {
                inQuotes.toggle()
            } else if character == separator && !inQuotes {
                parts.append(text[start..<index])
                start = text.index(after: index)
            }
            index = text.index(after: index)
        }
        parts.append(text[start...])
        return parts
    }

    private static func unquote(_ value: Substring) -> String {
        guard value.count >= 2, value.first == "\"", value.last == "\"" else { return String(value) }
        var result = ""
        var escaped = false
        for character in value.dropFirst().dropLast() {
            if escaped {
                result.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else {
                result.append(character)
            }
        }
        return result
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs (HTTP optional whitespace).
    func trimmingSpaces() -> SubSequence {
        var start = startIndex
        var end = endIndex
        while start < end, self[start] == " " || self[start] == "\t" { start = index(after: start) }
        while end > start, self[index(before: end)] == " " || self[index(before: end)] == "\t" { end = index(before: end) }
        return self[start..<end]
    }
}
