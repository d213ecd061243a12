/// The headers of a STOMP frame, in wire order.
///
/// STOMP 1.2 allows a header to repeat; "only the first header entry SHOULD be used" ("Repeated Header
/// Entries"), which is what the subscript returns. All entries are kept so a frame round-trips exactly.
public struct STOMPHeaders: Hashable, Sendable, RandomAccessCollection, ExpressibleByDictionaryLiteral {
    /// One `name:value` entry, unescaped.
    public struct Entry: Hashable, Sendable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    private var entries: [Entry]

    public init() {
        entries = []
    }

    public init(_ entries: [Entry]) {
        self.entries = entries
    }

    /// Headers in the order of the literal (dictionary literals keep their order).
    public init(dictionaryLiteral elements: (String, String)...) {
        entries = elements.map { Entry(name: $0.0, value: $0.1) }
    }

    public var startIndex: Int { entries.startIndex }
    public var endIndex: Int { entries.endIndex }
    public subscript(position: Int) -> Entry { entries[position] }

    /// The value of the first entry named `name` (names are case-sensitive in STOMP).
    public subscript(name: String) -> String? {
        entries.first { $0.name == name }?.value
    }

    /// Appends an entry (a repeated name is kept, and shadowed by the earlier one).
    public mutating func append(_ name: String, _ value: String) {
        entries.append(Entry(name: name, value: value))
    }
}
