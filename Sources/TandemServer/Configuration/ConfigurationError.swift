/// A configuration that cannot be used. `tandem serve` prints it and exits with code 2.
public struct ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The dotted key that is wrong (`cwmp.listen`), or nil for file-level problems.
    public var key: String?
    /// Where the value came from: a file path or a command-line flag.
    public var source: String?
    public var message: String

    public init(key: String?, source: String? = nil, _ message: String) {
        self.key = key
        self.source = source
        self.message = message
    }

    func at(key: String, source: String?) -> ConfigurationError {
        ConfigurationError(key: self.key ?? key, source: self.source ?? source, message)
    }

    public var description: String {
        var prefix = ""
        if let source { prefix += "\(source): " }
        if let key { prefix += "\(key): " }
        return prefix + message
    }
}
