import TandemCore

/// An `err_code` with its `err_msg`: the failure of one requested path, object or command.
public struct USPFailure: Hashable, Sendable, CustomStringConvertible {
    public var code: USPErrorCode
    public var message: String

    public init(code: USPErrorCode, message: String = "") {
        self.code = code
        self.message = message
    }

    /// The neutral fault; the category follows the code (TR-369 section "Error Codes").
    public var fault: Fault { Fault(usp: code, message: message.isEmpty ? nil : message) }

    public var description: String { message.isEmpty ? "\(code)" : "\(code.rawValue) \(message)" }
}

/// A path that failed, with its error: `Error.ParamError`, the `ParameterError`s of SetResp and
/// AddResp (`param` relative to the object), and DeleteResp's `UnaffectedPathError`.
public struct USPPathError: Hashable, Sendable, CustomStringConvertible {
    public var path: String
    public var code: USPErrorCode
    public var message: String

    public init(path: String, code: USPErrorCode, message: String = "") {
        self.path = path
        self.code = code
        self.message = message
    }

    public var fault: Fault { Fault(usp: code, message: message.isEmpty ? nil : message) }

    public var description: String { "\(path): \(code.rawValue) \(message.isEmpty ? code.name : message)" }
}

/// One `param` / `value` / `required` triple of Set (`UpdateParamSetting`) and Add
/// (`CreateParamSetting`). `name` is relative to the object path; `value` is the TR-106 lexical
/// form (R-ENC.6).
public struct USPParameterSetting: Hashable, Sendable {
    public var name: String
    public var value: String
    /// Fail the whole object when this parameter fails (R-SET.2, R-ADD.3).
    public var required: Bool

    public init(name: String, value: String, required: Bool = true) {
        self.name = name
        self.value = value
        self.required = required
    }
}

/// Comma-separated protocol version lists of GetSupportedProtocol / OnBoardRequest.
enum VersionList {
    static func parse(_ text: String) -> [String] {
        text.split(separator: ",").map { String($0).trimmingWhitespace() }.filter { !$0.isEmpty }
    }

    static func render(_ versions: [String]) -> String { versions.joined(separator: ",") }
}

extension String {
    func trimmingWhitespace() -> String {
        var view = Substring(self)
        while let first = view.first, first.isWhitespace { view.removeFirst() }
        while let last = view.last, last.isWhitespace { view.removeLast() }
        return String(view)
    }
}
