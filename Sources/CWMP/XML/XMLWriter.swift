/// Builds XML text directly into UTF-8 bytes, escaping every text and attribute value.
struct XMLWriter {
    private(set) var bytes: [UInt8] = []
    var booleans: CWMPEncoder.BooleanStyle = .words
    var fractionalSeconds = true

    init(capacity: Int = 1024) { bytes.reserveCapacity(capacity) }

    /// Markup written as is; only ever called with literals and element names.
    mutating func raw(_ literal: StaticString) {
        literal.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Markup written as is (namespace URIs the encoder controls, numbers).
    mutating func raw(_ string: String) { bytes.append(contentsOf: string.utf8) }

    /// Character data: `&`, `<`, `>` are escaped and CR becomes `&#13;` (a literal CR would be
    /// normalised to LF by the receiving parser, XML 1.0 section 2.11). Characters XML 1.0 cannot
    /// carry at all (C0 controls other than tab and LF, U+FFFE, U+FFFF) become U+FFFD.
    mutating func text(_ string: String) { escape(string, attribute: false) }

    /// An attribute value between double quotes: additionally `"`, tab and LF are escaped, so that
    /// attribute-value normalisation returns the same text.
    mutating func attribute(_ string: String) { escape(string, attribute: true) }

    private mutating func escape(_ string: String, attribute: Bool) {
        var string = string
        string.makeContiguousUTF8()  // a no-op for native strings
        string.utf8.withContiguousStorageIfAvailable { buffer in
            if buffer.contains(where: { Self.needsEscape($0, attribute: attribute) }) {
                escapeSlowly(buffer, attribute: attribute)
            } else {
                bytes.append(contentsOf: buffer)
            }
        }
    }

    private static func needsEscape(_ byte: UInt8, attribute: Bool) -> Bool {
        switch byte {
        case UInt8(ascii: "&"), UInt8(ascii: "<"), UInt8(ascii: ">"), 0x0D: true
        case UInt8(ascii: "\""), 0x09, 0x0A: attribute
        case 0x00..<0x20, 0xEF: true
        default: false
        }
    }

    private mutating func escapeSlowly(_ buffer: UnsafeBufferPointer<UInt8>, attribute: Bool) {
        var index = 0
        while index < buffer.count {
            let byte = buffer[index]
            switch byte {
            case UInt8(ascii: "&"): raw("&amp;")
            case UInt8(ascii: "<"): raw("&lt;")
            case UInt8(ascii: ">"): raw("&gt;")
            case 0x0D: raw("&#13;")
            case UInt8(ascii: "\"") where attribute: raw("&quot;")
            case 0x09 where attribute: raw("&#9;")
            case 0x0A where attribute: raw("&#10;")
            case 0x09, 0x0A: bytes.append(byte)
            case 0x00..<0x20: bytes.append(contentsOf: [0xEF, 0xBF, 0xBD])
            case 0xEF where index + 2 < buffer.count && buffer[index + 1] == 0xBF && (buffer[index + 2] == 0xBE || buffer[index + 2] == 0xBF):
                // U+FFFE and U+FFFF are not XML characters.
                bytes.append(contentsOf: [0xEF, 0xBF, 0xBD])
                index += 2
            default: bytes.append(byte)
            }
            index += 1
        }
    }

    // MARK: Elements

    mutating func open(_ name: StaticString) {
        raw("<")
        raw(name)
        raw(">")
    }

    mutating func close(_ name: StaticString) {
        raw("</")
        raw(name)
        raw(">")
    }

    mutating func empty(_ name: StaticString) {
        raw("<")
        raw(name)
        raw("/>")
    }

    /// `<name>text</name>` with the text escaped.
    mutating func element(_ name: StaticString, _ value: String) {
        open(name)
        text(value)
        close(name)
    }

    mutating func element<T: BinaryInteger>(_ name: StaticString, integer value: T) {
        open(name)
        raw(String(value))
        close(name)
    }

    /// An array element with its `soapenc:arrayType` (protocol digest A.2: always emitted).
    mutating func openArray(_ name: StaticString, itemType: StaticString, count: Int) {
        raw("<")
        raw(name)
        raw(" soapenc:arrayType=\"")
        raw(itemType)
        raw("[")
        raw(String(count))
        raw("]\">")
    }
}
