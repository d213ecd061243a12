/// Parses the `auth-scheme 1*SP auth-param *( "," auth-param )` form of `WWW-Authenticate` and
/// `Authorization` (RFC 9110 section 11), with quoted strings and their backslash escapes.
struct AuthParameterParser {
    /// The scheme (lower-cased) and the parameters (names lower-cased), or nil if malformed.
    static func parse(_ header: String) -> (scheme: String, parameters: [String: String])? {
        var scalars = Substring(header).unicodeScalars[...]
        func skipSpaces() {
            while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        }
        func token() -> String {
            var out = ""
            while let first = scalars.first, isTokenCharacter(first) {
                out.unicodeScalars.append(first)
                scalars.removeFirst()
            }
            return out
        }
        skipSpaces()
        let scheme = token().lowercased()
        guard !scheme.isEmpty else { return nil }
        var parameters: [String: String] = [:]
        while true {
            skipSpaces()
            while scalars.first == "," {
                scalars.removeFirst()
                skipSpaces()
            }
            if scalars.isEmpty { break }
            let name = token().lowercased()
            guard !name.isEmpty else { return nil }
            skipSpaces()
            guard scalars.first == "=" else { return nil }
            scalars.removeFirst()
            skipSpaces()
            var value = ""
            if scalars.first == "\"" {
                scalars.removeFirst()
                var closed = false
                while let character = scalars.first {
                    scalars.removeFirst()
                    if character == "\\" {
                        guard let escaped = scalars.first else { return nil }
                        value.unicodeScalars.append(escaped)
                        scalars.removeFirst()
                    } else if character == "\"" {
                        closed = true
                        break
                    } else {
                        value.unicodeScalars.append(character)
                    }
                }
                guard closed else { return nil }
            } else {
                value = token()
                guard !value.isEmpty else { return nil }
            }
            guard parameters[name] == nil else { return nil }  // a repeated parameter is ambiguous
            parameters[name] = value
            skipSpaces()
            guard scalars.isEmpty || scalars.first == "," else { return nil }
        }
        return (scheme, parameters)
    }

    /// `quoted-string` for a header value, escaping `"` and `\`.
    static func quote(_ value: String) -> String {
        var out = "\""
        for character in value {
            if character == "\"" || character == "\\" { out.append("\\") }
            out.append(character)
        }
        return out + "\""
    }

    private static func isTokenCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9": true
        case "!", "#", "$", "%", "&", "'", "*", "+", "-", ".", "^", "_", "`", "|", "~", "/", ":", "@", "=":
            // '/' ':' '@' '=' are not tchar, but token68 values (Basic credentials, some nonces) use them.
            scalar != "="
        default: false
        }
    }
}
