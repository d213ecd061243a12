import Foundation
import Testing
import TandemCore

@Suite struct TypedValueTests {
    @Test(arguments: [
        (ValueType.string, "hello <world> & \"friends\""), (.string, ""), (.int, "-2147483648"), (.int, "2147483647"),
        (.unsignedInt, "4294967295"), (.long, "-9223372036854775808"), (.unsignedLong, "18446744073709551615"),
        (.boolean, "true"), (.boolean, "false"), (.dateTime, "2026-11-25T08:16:06Z"), (.dateTime, "0001-01-01T00:00:00Z"),
        (.dateTime, "2026-02-28T23:59:60.123456+05:30"), (.dateTime, "0001-01-01T00:10:00"), (.dateTime, "2024-02-29T12:00:00-08:00"),
        (.base64, "AAEC/w=="), (.base64, ""), (.hexBinary, "00ff10ab"), (.hexBinary, ""), (.decimal, "-12.50"), (.decimal, "0.1"),
        (.decimal, "+7"), (.decimal, ".5"),
    ])
    func canonicalTextRoundTripsExactly(type: ValueType, text: String) throws {
        let value = try TypedValue(parsing: text, as: type)
        #expect(value.type == type)
        #expect(value.lexical == text)
        #expect(try TypedValue(parsing: value.lexical, as: type) == value)
    }

    @Test func acceptsFieldVariantsAndCanonicalises() throws {
        #expect(try TypedValue(parsing: "1", as: .boolean) == .boolean(true))
        #expect(try TypedValue(parsing: "0", as: .boolean) == .boolean(false))
        #expect(try TypedValue(parsing: " TRUE ", as: .boolean).lexical == "true")
        #expect(try TypedValue(parsing: " +42 ", as: .unsignedInt) == .unsignedInt(42))
        #expect(try TypedValue(parsing: "AAEC\n/w==", as: .base64) == .base64([0, 1, 2, 255]))
        #expect(try TypedValue(parsing: "00FF", as: .hexBinary).lexical == "00ff")
    }

    @Test(arguments: [
        (ValueType.int, "2147483648"), (.int, "1.5"), (.int, ""), (.int, "0x10"), (.unsignedInt, "-1"), (.unsignedInt, "4294967296"),
        (.long, "9223372036854775808"), (.unsignedLong, "-0x1"), (.boolean, "yes"), (.boolean, ""), (.dateTime, "2026-13-01T00:00:00Z"),
        (.dateTime, "2026-02-30T00:00:00Z"), (.dateTime, "2023-02-29T00:00:00Z"), (.dateTime, "2026-01-01 00:00:00"),
        (.dateTime, "2026-01-01T24:00:00Z"), (.dateTime, "2026-01-01T00:00:00+15:00"), (.dateTime, "2026-01-01T00:00:00Zjunk"),
        (.dateTime, "26-01-01T00:00:00Z"), (.dateTime, "2026-01-01T00:00:00."), (.base64, "!!!"), (.hexBinary, "abc"), (.hexBinary, "zz"),
        (.decimal, "1e5"), (.decimal, "."), (.decimal, ""), (.decimal, "1.2.3"), (.decimal, "--1"),
    ])
    func rejectsMalformedText(type: ValueType, text: String) {
        #expect(throws: ValueError.self) { try TypedValue(parsing: text, as: type) }
    }

    @Test func lenientKeepsUnparseableDeviceValuesAsStrings() {
        #expect(TypedValue.lenient("abc", type: .unsignedInt) == .string("abc"))
        #expect(TypedValue.lenient("12", type: .unsignedInt) == .unsignedInt(12))
        #expect(TypedValue.lenient("12", type: nil) == .string("12"))
    }

    @Test func xsdAndUSPTypeNames() {
        #expect(ValueType(xsdName: "xsd:unsignedInt") == .unsignedInt)
        #expect(ValueType(xsdName: "ns1:boolean") == .boolean)
        #expect(ValueType(xsdName: "unsignedint") == .unsignedInt)
        #expect(ValueType(xsdName: "xsd:base64Binary") == .base64)
        #expect(ValueType(xsdName: "xsd:float") == nil)
        #expect(ValueType.dateTime.xsdName == "xsd:dateTime")
        for type in ValueType.allCases {
            #expect(ValueType(uspTypeName: type.uspTypeName) == type)
            #expect(ValueType(xsdName: type.xsdName) == type)
        }
        #expect(ValueType(uspTypeName: "PARAM_UNKNOWN") == nil)
    }

    @Test func dateTimeSemantics() throws {
        let unknown = try DateTimeValue(parsing: "0001-01-01T00:00:00Z")
        #expect(unknown.isUnknown)
        #expect(unknown == .unknown)
        #expect(unknown.date == nil)
        let offset = try DateTimeValue(parsing: "2026-11-25T10:16:06+02:00")
        let utc = try DateTimeValue(parsing: "2026-11-25T08:16:06Z")
        #expect(offset.date == utc.date)
        #expect(offset != utc)  // lexically different, so not equal values
        #expect(utc.date?.timeIntervalSince1970 == 1_795_594_566)
        let now = Date(timeIntervalSince1970: 1_795_594_566.25)
        #expect(DateTimeValue(now).lexical == "2026-11-25T08:16:06.250Z")
        #expect(DateTimeValue(now).date == now)
        let beforeEpoch = Date(timeIntervalSince1970: -86_400.5)
        #expect(DateTimeValue(beforeEpoch).lexical == "1969-12-30T23:59:59.500Z")
    }

    @Test func jsonShape() throws {
        let value = TypedValue.unsignedInt(7)
        let data = try JSONEncoder().encode(value)
        let object = try #require(JSONSerialization.jsonObject(with: data) as? [String: String])
        #expect(object == ["type": "unsignedInt", "value": "7"])
        #expect(try JSONDecoder().decode(TypedValue.self, from: data) == value)
        let bad = Data(#"{"type":"int","value":"x"}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(TypedValue.self, from: bad) }
    }
}
