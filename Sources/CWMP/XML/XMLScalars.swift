import CLibXML2
import TandemCore

/// Scalar parsing straight from libxml2's text, without intermediate strings.
enum XMLScalars {
    /// A decimal integer with optional surrounding whitespace and sign; nil when malformed or out of
    /// Int64 range.
    static func integer(_ pointer: UnsafePointer<xmlChar>) -> Int64? {
        var index = 0
        while CString.isXMLWhitespace(pointer[index]) { index += 1 }
        var negative = false
        if pointer[index] == UInt8(ascii: "+") || pointer[index] == UInt8(ascii: "-") {
            negative = pointer[index] == UInt8(ascii: "-")
            index += 1
        }
        var value: Int64 = 0
        var digits = 0
        while pointer[index] >= 0x30 && pointer[index] <= 0x39 {
            let (multiplied, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (added, overflow2) = multiplied.addingReportingOverflow(Int64(pointer[index] - 0x30))
            guard !overflow1, !overflow2 else { return nil }
            value = added
            digits += 1
            index += 1
        }
        guard digits > 0 else { return nil }
        while CString.isXMLWhitespace(pointer[index]) { index += 1 }
        guard pointer[index] == 0 else { return nil }
        return negative ? -value : value
    }

    /// `true`/`false`/`1`/`0` in any case with surrounding whitespace (TR-069 A.2; protocol digest
    /// A.2: all four literals are valid on input).
    static func boolean(_ pointer: UnsafePointer<xmlChar>) -> Bool? {
        var start = 0
        while CString.isXMLWhitespace(pointer[start]) { start += 1 }
        var end = start
        while pointer[end] != 0 && !CString.isXMLWhitespace(pointer[end]) { end += 1 }
        var rest = end
        while CString.isXMLWhitespace(pointer[rest]) { rest += 1 }
        guard pointer[rest] == 0 else { return nil }
        func lower(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte + 32 : byte }
        func matches(_ word: StaticString) -> Bool {
            guard end - start == word.utf8CodeUnitCount else { return false }
            for offset in 0..<word.utf8CodeUnitCount where lower(pointer[start + offset]) != word.utf8Start[offset] { return false }
            return true
        }
        if matches("true") || matches("1") { return true }
        if matches("false") || matches("0") { return false }
        return nil
    }

    /// The TR-106 type an `xsi:type` value names (`xsd:unsignedInt`, `xs:int`, `SOAP-ENC:base64`, ...),
    /// nil when it names none.
    static func valueType(_ pointer: UnsafePointer<xmlChar>) -> ValueType? {
        var start = 0
        var index = 0
        while pointer[index] != 0 {
            if pointer[index] == UInt8(ascii: ":") { start = index + 1 }
            index += 1
        }
        let local = pointer + start
        if CString.equals(local, "string") { return .string }
        if CString.equals(local, "unsignedInt") { return .unsignedInt }
        if CString.equals(local, "boolean") { return .boolean }
        if CString.equals(local, "int") { return .int }
        if CString.equals(local, "dateTime") { return .dateTime }
        if CString.equals(local, "unsignedLong") { return .unsignedLong }
        if CString.equals(local, "long") { return .long }
        if CString.equals(local, "base64") { return .base64 }
        if CString.equals(local, "hexBinary") { return .hexBinary }
        if CString.equals(local, "decimal") { return .decimal }
        return ValueType(xsdName: CString.trimmedString(local))
    }

    /// The count in a `soapenc:arrayType` value (`cwmp:ParameterValueStruct[0005]` is 5); nil when
    /// there is none.
    static func arrayCount(_ pointer: UnsafePointer<xmlChar>) -> Int? {
        var index = 0
        var open: Int?
        while pointer[index] != 0 {
            if pointer[index] == UInt8(ascii: "[") { open = index }
            index += 1
        }
        guard let open else { return nil }
        var value = 0
        var digits = 0
        var cursor = open + 1
        while pointer[cursor] >= 0x30 && pointer[cursor] <= 0x39 {
            value = value &* 10 &+ Int(pointer[cursor] - 0x30)
            digits += 1
            cursor += 1
            if digits > 9 { return nil }
        }
        guard digits > 0, pointer[cursor] == UInt8(ascii: "]") else { return nil }
        return value
    }
}
