import CLibXML2

/// Hardened libxml2 parsing for untrusted SOAP.
///
/// - No entity substitution (`XML_PARSE_NOENT` unset), no DTD loading or validation, no network
///   (`XML_PARSE_NONET`), no `XML_PARSE_HUGE`; a document with a DOCTYPE is refused as soon as the
///   parser reaches it, before any entity declaration is read (billion laughs, XXE).
/// - The size limit is checked before parsing; the depth limit while parsing.
/// - Errors go to a per-context structured handler, never to libxml2's global stderr printer.
enum XMLParser {
    struct Limits: Sendable {
        var maximumBytes: Int
        var maximumDepth: Int
    }

    /// libxml2 must be initialised once before use from several threads.
    private static let initialized: Bool = {
        xmlInitParser()
        return true
    }()

    /// Called before each parse, on the parsing thread. Initialises libxml2 once. And libxml2
    /// reports some errors without a parser context (a failed charset conversion, an I/O error of
    /// its input buffer), past the per-parse handler, to a per-thread handler that prints to
    /// standard error by default: this silences them on the calling thread; the parser's own error
    /// that follows reaches the per-parse handler as before.
    static func prepareThread() {
        _ = initialized
        xmlSetStructuredErrorFunc(nil) { _, _ in }
    }

    static let options: Int32 = Int32(bitPattern:
        XML_PARSE_NONET.rawValue | XML_PARSE_NOCDATA.rawValue | XML_PARSE_COMPACT.rawValue)

    /// Parses `buffer` and hands the root element to `body`; the tree is freed afterwards.
    static func withDocument<T>(
        _ buffer: UnsafeRawBufferPointer, encoding: String?, limits: Limits,
        _ body: (XMLElement) throws(CWMPDecodingError) -> T
    ) throws(CWMPDecodingError) -> T {
        guard buffer.count <= limits.maximumBytes, buffer.count <= Int(Int32.max) else {
            throw CWMPDecodingError(.tooLarge, "message of \(buffer.count) bytes exceeds the limit of \(limits.maximumBytes) bytes")
        }
        guard let base = buffer.baseAddress, buffer.count > 0 else {
            throw CWMPDecodingError(.empty, "empty message")
        }
        prepareThread()
        guard let context = xmlNewParserCtxt() else {
            throw CWMPDecodingError(.malformedXML, "libxml2 could not allocate a parser context")
        }
        defer { xmlFreeParserCtxt(context) }

        guard let sax = context.pointee.sax else {
            throw CWMPDecodingError(.malformedXML, "libxml2 parser context has no SAX handler")
        }
        // A plain struct behind a raw pointer: the callbacks run once per element and must not
        // retain and release anything.
        let statePointer = UnsafeMutablePointer<ParseState>.allocate(capacity: 1)
        statePointer.initialize(to: ParseState(
            maximumDepth: limits.maximumDepth, startElement: sax.pointee.startElementNs, endElement: sax.pointee.endElementNs))
        defer {
            statePointer.deinitialize(count: 1)
            statePointer.deallocate()
        }
        sax.pointee.serror = { userData, error in
            guard let state = ParseState.from(userData), let error else { return }
            state.pointee.record(error.pointee)
        }
        sax.pointee.internalSubset = { userData, _, _, _ in
            guard let state = ParseState.from(userData) else { return }
            state.pointee.sawDoctype = true
            state.pointee.doctypeLine = ParseState.line(userData)
            xmlStopParser(userData?.assumingMemoryBound(to: xmlParserCtxt.self))
        }
        sax.pointee.startElementNs = { userData, localName, prefix, uri, namespaceCount, namespaces, attributeCount, defaulted, attributes in
            guard let state = ParseState.from(userData) else { return }
            state.pointee.depth += 1
            if state.pointee.depth > state.pointee.maximumDepth {
                state.pointee.tooDeep = true
                state.pointee.errorLine = ParseState.line(userData)
                xmlStopParser(userData?.assumingMemoryBound(to: xmlParserCtxt.self))
                return
            }
            state.pointee.startElement?(userData, localName, prefix, uri, namespaceCount, namespaces, attributeCount, defaulted, attributes)
        }
        sax.pointee.endElementNs = { userData, localName, prefix, uri in
            guard let state = ParseState.from(userData) else { return }
            state.pointee.depth -= 1
            state.pointee.endElement?(userData, localName, prefix, uri)
        }

        context.pointee._private = UnsafeMutableRawPointer(statePointer)
        let document: xmlDocPtr? = encoding.withOptionalCString { encodingName in
            base.withMemoryRebound(to: CChar.self, capacity: buffer.count) { bytes in
                xmlCtxtReadMemory(context, bytes, Int32(buffer.count), nil, encodingName, options)
            }
        }
        context.pointee._private = nil
        defer { if let document { xmlFreeDoc(document) } }
        let state = statePointer.pointee
        if state.sawDoctype {
            throw CWMPDecodingError(.doctype, "a DOCTYPE (DTD or entity declarations) is not allowed in a CWMP message", line: state.doctypeLine)
        }
        if state.tooDeep {
            throw CWMPDecodingError(.tooDeep, "elements nest deeper than \(limits.maximumDepth) levels", line: state.errorLine)
        }
        guard let document, context.pointee.wellFormed != 0 else {
            throw CWMPDecodingError(.malformedXML, state.errorMessage ?? "not well-formed XML", line: state.errorLine)
        }
        if document.pointee.intSubset != nil || document.pointee.extSubset != nil {
            throw CWMPDecodingError(.doctype, "a DOCTYPE (DTD or entity declarations) is not allowed in a CWMP message")
        }
        guard let root = xmlDocGetRootElement(document) else {
            throw CWMPDecodingError(.malformedXML, "the document has no root element")
        }
        return try body(XMLElement(root))
    }
}

/// Per-parse state reached from libxml2 callbacks through the context's `_private` pointer.
private struct ParseState {
    let maximumDepth: Int
    let startElement: startElementNsSAX2Func?
    let endElement: endElementNsSAX2Func?
    var depth = 0
    var tooDeep = false
    var sawDoctype = false
    var doctypeLine: Int?
    var errorMessage: String?
    var errorLine: Int?

    init(maximumDepth: Int, startElement: startElementNsSAX2Func?, endElement: endElementNsSAX2Func?) {
        self.maximumDepth = maximumDepth
        self.startElement = startElement
        self.endElement = endElement
    }

    /// The SAX user data of a context created by `xmlNewParserCtxt` is the context itself.
    static func from(_ userData: UnsafeMutableRawPointer?) -> UnsafeMutablePointer<ParseState>? {
        guard let context = userData?.assumingMemoryBound(to: xmlParserCtxt.self),
            let opaque = context.pointee._private
        else { return nil }
        return opaque.assumingMemoryBound(to: ParseState.self)
    }

    /// The line the parser is on.
    static func line(_ userData: UnsafeMutableRawPointer?) -> Int? {
        guard let input = userData?.assumingMemoryBound(to: xmlParserCtxt.self).pointee.input else { return nil }
        return Int(input.pointee.line)
    }

    /// Keeps the first error: later ones are usually consequences of it.
    mutating func record(_ error: xmlError) {
        guard errorMessage == nil else { return }
        let text = error.message.map { String(cString: $0) } ?? "XML error \(error.code)"
        errorMessage = text.split(whereSeparator: \.isNewline).map { CString.trimmed(String($0)) }.filter { !$0.isEmpty }
            .joined(separator: "; ")
        errorLine = error.line > 0 ? Int(error.line) : nil
    }
}

extension Optional where Wrapped == String {
    func withOptionalCString<R>(_ body: (UnsafePointer<CChar>?) -> R) -> R {
        switch self {
        case .some(let string): string.withCString { body($0) }
        case .none: body(nil)
        }
    }
}
