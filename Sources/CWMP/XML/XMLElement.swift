import CLibXML2

/// A read-only view of a libxml2 element, valid while its document lives. Matching is by local
/// name and namespace URI, never by prefix (protocol digest A.1).
struct XMLElement {
    let node: xmlNodePtr

    init(_ node: xmlNodePtr) { self.node = node }

    /// The local name (libxml2 keeps the prefix separately).
    var name: String { String(cString: node.pointee.name) }

    /// The namespace URI, nil for an unqualified element.
    var namespaceURI: String? {
        guard let ns = node.pointee.ns, let href = ns.pointee.href else { return nil }
        return String(cString: href)
    }

    /// The line libxml2 recorded for the element.
    var line: Int { Int(node.pointee.line) }

    /// Compares the local name without allocating.
    func isNamed(_ literal: StaticString) -> Bool { CString.equals(node.pointee.name, literal) }

    /// True when the namespace URI equals `uri` (nil: unqualified).
    func isInNamespace(_ uri: StaticString) -> Bool {
        guard let ns = node.pointee.ns, let href = ns.pointee.href else { return false }
        return CString.equals(href, uri)
    }

    /// True when the namespace URI starts with `prefix`.
    func namespaceHasPrefix(_ prefix: StaticString) -> Bool {
        guard let ns = node.pointee.ns, let href = ns.pointee.href else { return false }
        return CString.hasPrefix(href, prefix)
    }

    /// The element children, in document order (text, comments and processing instructions skipped).
    var children: Children { Children(first: node.pointee.children) }

    /// The first element child named `name`, in any namespace.
    func child(_ name: StaticString) -> XMLElement? {
        for child in children where child.isNamed(name) { return child }
        return nil
    }

    /// The number of element children.
    var childCount: Int { Int(xmlChildElementCount(node)) }

    /// The concatenated text content of the element's text children (CDATA is merged into text by
    /// `XML_PARSE_NOCDATA`), exactly as written.
    var text: String {
        guard let first = node.pointee.children else { return "" }
        if first.pointee.next == nil {
            guard first.pointee.type == XML_TEXT_NODE, let content = first.pointee.content else { return "" }
            return String(cString: content)
        }
        var bytes: [UInt8] = []
        var current: xmlNodePtr? = first
        while let item = current {
            if item.pointee.type == XML_TEXT_NODE, let content = item.pointee.content {
                var pointer = content
                while pointer.pointee != 0 {
                    bytes.append(pointer.pointee)
                    pointer += 1
                }
            }
            current = item.pointee.next
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The text with leading and trailing XML whitespace removed (names, numbers, codes: CPEs pad them
    /// with CR/LF and spaces).
    var trimmedText: String {
        guard let first = node.pointee.children else { return "" }
        if first.pointee.next == nil, first.pointee.type == XML_TEXT_NODE, let content = first.pointee.content {
            return CString.trimmedString(content)
        }
        return CString.trimmed(text)
    }

    /// The raw value of the attribute `localName` whose namespace URI satisfies `namespace`.
    /// Unqualified attributes match when `namespace` accepts nil.
    func attributeValue(_ localName: StaticString, namespace: (UnsafePointer<xmlChar>?) -> Bool) -> UnsafePointer<xmlChar>? {
        var attribute = node.pointee.properties
        while let current = attribute {
            if CString.equals(current.pointee.name, localName), namespace(current.pointee.ns?.pointee.href) {
                guard let valueNode = current.pointee.children else { return nil }
                if let content = valueNode.pointee.content { return UnsafePointer(content) }
                return nil
            }
            attribute = current.pointee.next
        }
        return nil
    }

    /// `xsi:type` with the 2001 or 1999 XML Schema instance namespace (any URI ending in
    /// `XMLSchema-instance`).
    var xsiType: UnsafePointer<xmlChar>? {
        attributeValue("type") { href in href.map(Self.isSchemaInstance) ?? false }
    }

    /// The 2001 or 1999 XML Schema instance namespace (any URI ending in `XMLSchema-instance`).
    static func isSchemaInstance(_ uri: UnsafePointer<xmlChar>) -> Bool { CString.hasSuffix(uri, "XMLSchema-instance") }

    /// `soapenc:arrayType` (any namespace, or none: some CPEs get the prefix wrong).
    var arrayType: UnsafePointer<xmlChar>? {
        attributeValue("arrayType") { _ in true }
    }

    struct Children: Sequence {
        let first: xmlNodePtr?

        struct Iterator: IteratorProtocol {
            var current: xmlNodePtr?

            mutating func next() -> XMLElement? {
                while let node = current {
                    current = node.pointee.next
                    if node.pointee.type == XML_ELEMENT_NODE { return XMLElement(node) }
                }
                return nil
            }
        }

        func makeIterator() -> Iterator { Iterator(current: first) }
    }
}

/// Allocation-free helpers over libxml2's NUL-terminated UTF-8 strings.
enum CString {
    static func equals(_ pointer: UnsafePointer<xmlChar>?, _ literal: StaticString) -> Bool {
        guard let pointer else { return false }
        let count = literal.utf8CodeUnitCount
        let expected = literal.utf8Start
        for index in 0..<count where pointer[index] != expected[index] { return false }
        return pointer[count] == 0
    }

    static func hasPrefix(_ pointer: UnsafePointer<xmlChar>, _ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        let expected = literal.utf8Start
        for index in 0..<count where pointer[index] != expected[index] { return false }
        return true
    }

    static func hasSuffix(_ pointer: UnsafePointer<xmlChar>, _ literal: StaticString) -> Bool {
        let length = strlen(pointer)
        let count = literal.utf8CodeUnitCount
        guard length >= count else { return false }
        let start = pointer + (length - count)
        let expected = literal.utf8Start
        for index in 0..<count where start[index] != expected[index] { return false }
        return true
    }

    static func strlen(_ pointer: UnsafePointer<xmlChar>) -> Int {
        var length = 0
        while pointer[length] != 0 { length += 1 }
        return length
    }

    static func isXMLWhitespace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }

    /// The string between the first and last non-whitespace bytes.
    static func trimmedString(_ pointer: UnsafePointer<xmlChar>) -> String {
        var start = 0
        while pointer[start] != 0, isXMLWhitespace(pointer[start]) { start += 1 }
        var end = start
        var index = start
        while pointer[index] != 0 {
            if !isXMLWhitespace(pointer[index]) { end = index + 1 }
            index += 1
        }
        return String(decoding: UnsafeBufferPointer(start: pointer + start, count: end - start), as: UTF8.self)
    }

    static func trimmed(_ string: String) -> String {
        let bytes = string.utf8
        guard let first = bytes.firstIndex(where: { !isXMLWhitespace($0) }),
            let last = bytes.lastIndex(where: { !isXMLWhitespace($0) })
        else { return "" }
        return String(string[first...last])
    }

    /// The part after the last `:` of a QName, as a String.
    static func localPart(_ pointer: UnsafePointer<xmlChar>) -> String {
        var start = 0
        var index = 0
        while pointer[index] != 0 {
            if pointer[index] == UInt8(ascii: ":") { start = index + 1 }
            index += 1
        }
        return CString.trimmedString(pointer + start)
    }
}

extension XMLElement {
    /// Calls `body` with the element's text as a NUL-terminated string, without copying in the
    /// common case of a single text child.
    func withText<R>(_ body: (UnsafePointer<xmlChar>) -> R) -> R {
        let first = node.pointee.children
        if first == nil {
            return withUnsafePointer(to: UInt8(0)) { body($0) }
        }
        if let first, first.pointee.next == nil, first.pointee.type == XML_TEXT_NODE, let content = first.pointee.content {
            return body(UnsafePointer(content))
        }
        var bytes = Array(text.utf8)
        bytes.append(0)
        return bytes.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
