/// Recursive-descent parser for USP path names and search paths (TR-369 section 2.6) over UTF-8.
struct PathParser {
    private let input: String
    private let bytes: [UInt8]
    private var position = 0

    /// Paths longer than this are refused: TR-069 limits names to 256 characters and TR-369 search
    /// paths are of the same order, so 4 KiB leaves room without inviting abuse.
    static let maximumLength = 4096

    init(_ input: String) {
        self.input = input
        self.bytes = Array(input.utf8)
    }

    mutating func parsePath() throws(PathParseError) -> PathExpression {
        guard !bytes.isEmpty else { throw error("empty path", at: 0) }
        guard bytes.count <= Self.maximumLength else {
            throw error("path is longer than \(Self.maximumLength) bytes", at: Self.maximumLength)
        }
        var segments: [PathExpression.Segment] = []
        while true {
            let start = position
            let segment = try parseSegment()
            if segments.isEmpty, case .name = segment {} else if segments.isEmpty {
                throw error("a path starts with a root object name such as Device", at: start)
            }
            segments.append(segment)
            guard let byte = peek() else { return PathExpression(segments: segments, kind: .parameter) }
            switch byte {
            case UInt8(ascii: "."):
                position += 1
                if peek() == nil { return PathExpression(segments: segments, kind: .object) }
            case UInt8(ascii: "("):
                guard case .name = segment else { throw error("only a name can be a command", at: position) }
                position += 1
                guard peek() == UInt8(ascii: ")") else { throw error("expected ')' to close the command", at: position) }
                position += 1
                guard peek() == nil else { throw error("nothing may follow a command's '()'", at: position) }
                return PathExpression(segments: segments, kind: .command)
            case UInt8(ascii: "!"):
                guard case .name = segment else { throw error("only a name can be an event", at: position) }
                position += 1
                guard peek() == nil else { throw error("nothing may follow an event's '!'", at: position) }
                return PathExpression(segments: segments, kind: .event)
            default:
                throw error("unexpected \(describe(byte)); expected '.', '()', '!' or the end", at: position)
            }
        }
    }

    // MARK: Segments

    private mutating func parseSegment() throws(PathParseError) -> PathExpression.Segment {
        guard let byte = peek() else { throw error("path ends where a name was expected", at: position) }
        switch byte {
        case UInt8(ascii: "."):
            throw error("empty path segment (two dots in a row)", at: position)
        case UInt8(ascii: "*"):
            position += 1
            return .wildcard
        case UInt8(ascii: "["):
            return .search(try parseSearch())
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .instance(try parseInstanceNumber())
        case UInt8(ascii: "{"):
            throw error("'{i}' placeholders belong to supported-data-model paths, not to instance paths", at: position)
        default:
            let name = try parseName()
            return try parseReferenceSuffix(name)
        }
    }

    private mutating func parseName() throws(PathParseError) -> String {
        let start = position
        guard let first = peek(), isNameStart(first) else {
            let found = peek().map(describe) ?? "the end"
            throw error("expected a name, an instance number, '*' or '[' but found \(found)", at: position)
        }
        _ = first
        position += 1
        while let byte = peek(), isNameChar(byte) { position += 1 }
        if position - start > 256 { throw error("name is longer than 256 characters", at: start) }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    private mutating func parseReferenceSuffix(_ name: String) throws(PathParseError) -> PathExpression.Segment {
        switch peek() {
        case UInt8(ascii: "+"):
            position += 1
            return .reference(name, index: nil)
        case UInt8(ascii: "#"):
            position += 1
            let index: PathExpression.ReferenceIndex
            if peek() == UInt8(ascii: "*") {
                position += 1
                index = .all
            } else if let byte = peek(), isDigit(byte) {
                index = .position(try parseInstanceNumber())
            } else {
                throw error("expected a list position or '*' after '#'", at: position)
            }
            guard peek() == UInt8(ascii: "+") else { throw error("expected '+' to follow the reference", at: position) }
            position += 1
            return .reference(name, index: index)
        default:
            return .name(name)
        }
    }

    private mutating func parseInstanceNumber() throws(PathParseError) -> UInt32 {
        let start = position
        while let byte = peek(), isDigit(byte) { position += 1 }
        if let byte = peek(), isNameChar(byte) {
            throw error("a name cannot start with a digit", at: start)
        }
        let digits = bytes[start..<position]
        if digits.first == UInt8(ascii: "0") {
            throw error(digits.count == 1 ? "instance numbers start at 1" : "instance number has a leading zero", at: start)
        }
        guard let number = UInt32(String(decoding: digits, as: UTF8.self)) else {
            throw error("instance number is too large", at: start)
        }
        return number
    }

    // MARK: Search expressions

    private mutating func parseSearch() throws(PathParseError) -> [SearchCondition] {
        let open = position
        position += 1  // '['
        skipSpaces()
        if peek() == UInt8(ascii: "]") { throw error("empty search expression '[]'", at: open) }
        var conditions: [SearchCondition] = []
        while true {
            conditions.append(try parseCondition())
            skipSpaces()
            guard let byte = peek() else { throw error("search expression is not closed with ']'", at: position) }
            if byte == UInt8(ascii: "]") {
                position += 1
                return conditions
            }
            if byte == UInt8(ascii: "&"), peek(1) == UInt8(ascii: "&") {
                position += 2
                skipSpaces()
                continue
            }
            if byte == UInt8(ascii: "|") {
                throw error("search expressions have no OR; only '&&' joins terms", at: position)
            }
            throw error("expected '&&' or ']' but found \(describe(byte))", at: position)
        }
    }

    private mutating func parseCondition() throws(PathParseError) -> SearchCondition {
        var path: [PathExpression.Segment] = []
        while true {
            let start = position
            guard let byte = peek() else { throw error("search expression ends where a parameter was expected", at: position) }
            if isDigit(byte) || byte == UInt8(ascii: "*") || byte == UInt8(ascii: "[") {
                throw error("a search term may not descend into a table", at: start)
            }
            path.append(try parseReferenceSuffix(try parseName()))
            guard peek() == UInt8(ascii: ".") else { break }
            position += 1
        }
        skipSpaces()
        let opStart = position
        let op = try parseOperator()
        skipSpaces()
        let literalStart = position
        let literal = try parseLiteral()
        if op != .equal && op != .notEqual && op != .contains {
            switch literal {
            case .string:
                throw error("strings compare only with '==', '!=' or '~='", at: opStart)
            case .bare(let text) where text == "true" || text == "false":
                throw error("booleans compare only with '==' or '!='", at: opStart)
            case .bare(let text) where Double(text) == nil:
                throw error("'\(op.rawValue)' needs a number", at: literalStart)
            default: break
            }
        }
        return SearchCondition(path: path, op: op, value: literal)
    }

    private mutating func parseOperator() throws(PathParseError) -> SearchCondition.Operator {
        guard let first = peek() else { throw error("search term ends where an operator was expected", at: position) }
        let second = peek(1)
        let twoByte: SearchCondition.Operator? =
            switch (first, second) {
            case (UInt8(ascii: "="), UInt8(ascii: "=")): .equal
            case (UInt8(ascii: "!"), UInt8(ascii: "=")): .notEqual
            case (UInt8(ascii: "~"), UInt8(ascii: "=")): .contains
            case (UInt8(ascii: "<"), UInt8(ascii: "=")): .lessOrEqual
            case (UInt8(ascii: ">"), UInt8(ascii: "=")): .greaterOrEqual
            default: nil
            }
        if let twoByte {
            position += 2
            return twoByte
        }
        switch first {
        case UInt8(ascii: "<"):
            position += 1
            return .less
        case UInt8(ascii: ">"):
            position += 1
            return .greater
        case UInt8(ascii: "="):
            throw error("use '==' for equality", at: position)
        default:
            throw error("expected an operator (==, !=, ~=, <, >, <=, >=) but found \(describe(first))", at: position)
        }
    }

    private mutating func parseLiteral() throws(PathParseError) -> SearchCondition.Literal {
        guard let first = peek() else { throw error("search term ends where a value was expected", at: position) }
        if first == UInt8(ascii: "\"") {
            let open = position
            position += 1
            var raw: [UInt8] = []
            while let byte = peek(), byte != UInt8(ascii: "\"") {
                if byte == UInt8(ascii: "%") {
                    guard let high = peek(1).flatMap(PercentCoding.hexValue), let low = peek(2).flatMap(PercentCoding.hexValue) else {
                        throw error("'%' in a search string must start a %HH escape", at: position)
                    }
                    raw.append(high << 4 | low)
                    position += 3
                } else {
                    raw.append(byte)
                    position += 1
                }
            }
            guard peek() == UInt8(ascii: "\"") else { throw error("string is not closed with '\"'", at: open) }
            position += 1
            guard let text = String(validating: raw, as: UTF8.self) else {
                throw error("string escape is not UTF-8", at: open)
            }
            return .string(text)
        }
        let start = position
        while let byte = peek(), isBareChar(byte) { position += 1 }
        guard position > start else { throw error("expected a value but found \(describe(first))", at: position) }
        return .bare(String(decoding: bytes[start..<position], as: UTF8.self))
    }

    // MARK: Helpers

    private func peek(_ offset: Int = 0) -> UInt8? {
        let index = position + offset
        return index < bytes.count ? bytes[index] : nil
    }

    private mutating func skipSpaces() {
        // Agents SHOULD tolerate whitespace around operators (TR-369 R-ARC.9a).
        while let byte = peek(), byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { position += 1 }
    }

    private func isNameStart(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || byte == UInt8(ascii: "_")
    }

    private func isNameChar(_ byte: UInt8) -> Bool {
        isNameStart(byte) || isDigit(byte) || byte == UInt8(ascii: "-")
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private func isBareChar(_ byte: UInt8) -> Bool {
        isNameChar(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "+")
    }

    private func describe(_ byte: UInt8) -> String {
        byte >= 0x20 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
    }

    private func error(_ message: String, at offset: Int) -> PathParseError {
        // Columns count characters, not bytes, so that they match what a person sees.
        let prefix = bytes[..<min(offset, bytes.count)]
        let column = String(decoding: prefix, as: UTF8.self).count + 1 + max(0, offset - bytes.count)
        return PathParseError(input: input, column: column, message: message)
    }
}
