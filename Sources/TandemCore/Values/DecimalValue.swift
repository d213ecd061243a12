/// An `xsd:decimal`: optional sign, digits, optional fraction. Kept as its lexical form so that
/// precision and trailing zeros survive a round trip (a binary float would not: 0.1, 1.50).
public struct DecimalValue: Hashable, Sendable, CustomStringConvertible {
    public let lexical: String

    public init(parsing text: String) throws(ValueError) {
        var body = Substring(text)
        if body.first == "+" || body.first == "-" { body.removeFirst() }
        let parts = body.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let integerPart = parts[0]
        let fractionPart = parts.count > 1 ? parts[1] : ""
        guard !(integerPart.isEmpty && fractionPart.isEmpty),
            integerPart.allSatisfy(\.isASCIIDigit), fractionPart.allSatisfy(\.isASCIIDigit)
        else {
            throw ValueError("\"\(text)\" is not a valid decimal")
        }
        self.lexical = text
    }

    /// The value as a Double, for comparisons in search expressions and policies.
    public var doubleValue: Double { Double(lexical) ?? .nan }

    public var description: String { lexical }
}
