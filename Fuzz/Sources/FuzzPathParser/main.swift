import TandemCore

/// libFuzzer entry: the path expression parser, on the input read as UTF-8, and re-parsing what it
/// prints (a parsed path must print as a path that parses to the same value).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPathParser(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    if let path = try? PathExpression(text) {
        guard let again = try? PathExpression(path.description), again == path else {
            fatalError("\(text.debugDescription) parsed, but its description \(path.description.debugDescription) does not parse back to it")
        }
    }
    return 0
}
