/// A path that could not be parsed, with the 1-based column where it went wrong.
public struct PathParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public let input: String
    /// 1-based column of the offending character (one past the end for a path cut short).
    public let column: Int
    public let message: String

    public init(input: String, column: Int, message: String) {
        self.input = input
        self.column = column
        self.message = message
    }

    public var description: String { "column \(column): \(message) in \"\(input)\"" }
}
