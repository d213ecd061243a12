import Testing
import TandemCore

@Suite struct CWMPDeviceIDTests {
    @Test func normalisesLowerCaseOUIAndTrimsFields() throws {
        let id = try CWMPDeviceID(manufacturer: " Acme ", oui: "00d09e", productClass: "IGD ", serialNumber: " SN-1")
        #expect(id.oui == "00D09E")
        #expect(id.productClass == "IGD")
        #expect(id.serialNumber == "SN-1")
        #expect(id.manufacturer == "Acme")
    }

    @Test func trimsUnicodeWhitespaceAndCountsCharactersNotBytes() throws {
        let id = try CWMPDeviceID(
            manufacturer: "\u{A0}Acme\u{2003}", oui: "\u{2003}00d09e\n", productClass: "ÉtéBox", serialNumber: String(repeating: "é", count: 64))
        #expect(id.manufacturer == "Acme")
        #expect(id.oui == "00D09E")
        #expect(id.productClass == "ÉtéBox")
        #expect(id.serialNumber.count == 64)
        // A visible ASCII character at both ends leaves the text as it is, inner spaces included.
        let plain = try CWMPDeviceID(manufacturer: "A c m e", oui: "00D09E", serialNumber: "S 1")
        #expect(plain.manufacturer == "A c m e")
        #expect(plain.serialNumber == "S 1")
    }

    @Test func canonicalFormEscapesDashesAndParsesBack() throws {
        let id = try CWMPDeviceID(oui: "00D09E", productClass: "HG-8245", serialNumber: "48575443-A1%B2")
        #expect(id.canonical == "00D09E-HG%2D8245-48575443%2DA1%25B2")
        let back = try CWMPDeviceID(parsing: id.canonical)
        #expect(back == id)
        #expect(back.productClass == "HG-8245")
        #expect(back.serialNumber == "48575443-A1%B2")
    }

    @Test func emptyProductClassUsesTwoFieldForm() throws {
        let id = try CWMPDeviceID(oui: "A0B1C2", serialNumber: "X1")
        #expect(id.canonical == "A0B1C2-X1")
        #expect(try CWMPDeviceID(parsing: "A0B1C2-X1") == id)
    }

    @Test func equalityIgnoresManufacturerSpelling() throws {
        let a = try CWMPDeviceID(manufacturer: "ACME", oui: "00D09E", productClass: "P", serialNumber: "S")
        let b = try CWMPDeviceID(manufacturer: "Acme Inc.", oui: "00d09e", productClass: "P", serialNumber: "S")
        #expect(a == b)
        #expect(Set([a, b]).count == 1)
    }

    @Test(arguments: [
        ("00D09", "S", "six hexadecimal"),
        ("00D09G", "S", "six hexadecimal"),
        ("00D09E", "", "SerialNumber must not be empty"),
        ("00D09E", "   ", "SerialNumber must not be empty"),
        ("00D09E", String(repeating: "x", count: 65), "longer than 64"),
        ("00D09E", "a\u{1}b", "control character"),
        ("00D09E", "ab\u{7F}", "control character"),
        ("00D09E", String(repeating: "é", count: 65), "longer than 64"),
    ])
    func rejectsMalformedFields(oui: String, serial: String, message: String) {
        #expect {
            try CWMPDeviceID(oui: oui, serialNumber: serial)
        } throws: { error in
            (error as? IdentityError)?.message.contains(message) == true
        }
    }

    @Test(arguments: ["", "00D09E", "00D09E-a-b-c", "00D09E-P-%ZZ", "00D09E-P-%C3"])
    func rejectsMalformedCanonicalText(_ text: String) {
        #expect(throws: IdentityError.self) { try CWMPDeviceID(parsing: text) }
    }

    @Test func derivesOSAndOPSEndpointIDs() throws {
        let id = try CWMPDeviceID(oui: "00256D", productClass: "STB", serialNumber: "0123456789")
        #expect(id.derivedEndpointIDs.map(\.rawValue) == ["os::00256D-0123456789", "ops::00256D-STB-0123456789"])
        let noClass = try CWMPDeviceID(oui: "00256D", serialNumber: "0123456789")
        #expect(noClass.derivedEndpointIDs.map(\.rawValue) == ["os::00256D-0123456789"])
        // '-' is an unreserved instance-id character and stays; a space is percent-encoded.
        let dashed = try CWMPDeviceID(oui: "00d09e", productClass: "HG-8245", serialNumber: "SN 1")
        #expect(dashed.derivedEndpointIDs.map(\.rawValue) == ["os::00D09E-SN%201", "ops::00D09E-HG-8245-SN%201"])
        for derived in dashed.derivedEndpointIDs {
            #expect(try EndpointID(derived.rawValue) == derived)
        }
    }
}

@Suite struct EndpointIDTests {
    @Test(arguments: [
        "oui:00256D:my-unique-bbf-id-42", "oui:00256D1:x", "oui:00256D123:x", "cid:3AA3F8:my-unique-usp-id-42",
        "pen:3561:my-unique-bbf-id-42", "self::my-Agent", "self:abc:my-Agent", "user::u1", "user:ops1:u1",
        "os::00256D-0123456789", "ops::00256D-STB-0123456789", "uuid::f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
        "imei::990000862471854", "imeisv::9900008624718501", "proto::my-Agent", "proto:lab:ctrl", "doc::example",
        "fqdn::www.example.org", "self::a%20b",
    ])
    func parsesEveryScheme(_ text: String) throws {
        let id = try EndpointID(text)
        #expect(id.rawValue == text)
        #expect(id.description == text)
    }

    @Test(arguments: [
        ("", "no authority scheme"),
        ("os", "no authority scheme"),
        ("xyz::abc", "unknown endpoint ID authority scheme"),
        ("os:00256D-1", "lacks the second ':'"),
        ("os::", "empty instance-id"),
        ("oui:00256:x", "hexadecimal authority-id"),
        ("oui:0025ZZ:x", "hexadecimal authority-id"),
        ("cid:00256D1:x", "hexadecimal authority-id"),
        ("pen:abc:x", "decimal Private Enterprise Number"),
        ("pen::x", "decimal Private Enterprise Number"),
        ("self:toolong7:x", "0 to 6 unreserved"),
        ("proto:a.b:x", "other than '.'"),
        ("os:abc:00256D-1", "empty authority-id"),
        ("os::00256D", "OUI-SerialNumber"),
        ("os::0025-1", "OUI-SerialNumber"),
        ("ops::00256D-STB", "OUI-ProductClass-SerialNumber"),
        ("ops::00256D--1", "OUI-ProductClass-SerialNumber"),
        ("uuid::1234", "RFC 4122 UUID"),
        ("imei::12345", "15 decimal digits"),
        ("imeisv::990000862471854", "16 decimal digits"),
        ("fqdn::bad..name", "DNS name"),
        ("self::has space", "R-ARC.5"),
        ("self::bad%2", "R-ARC.5"),
        ("self::é", "R-ARC.5"),
    ])
    func rejectsMalformed(text: String, message: String) {
        #expect {
            try EndpointID(text)
        } throws: { error in
            (error as? IdentityError)?.message.contains(message) == true
        }
    }

    @Test func enforcesFiftyCharacterInstanceUnlessLenient() throws {
        let long = "os::00D09E-" + String(repeating: "9", count: 45)
        #expect(throws: IdentityError.self) { try EndpointID(long) }
        let lenient = try EndpointID(long, strictLength: false)
        #expect(lenient.instance.count == 52)
    }

    @Test func linksWithTheCWMPIdentityItDerivesFrom() throws {
        let device = try CWMPDeviceID(oui: "00D09E", productClass: "HG-8245", serialNumber: "SN 1")
        #expect(try EndpointID("os::00D09E-SN%201").isDerived(from: device))
        #expect(try EndpointID("os::00d09e-SN%201").isDerived(from: device))
        #expect(try EndpointID("ops::00D09E-HG-8245-SN%201").isDerived(from: device))
        #expect(try !EndpointID("os::00D09E-SN%202").isDerived(from: device))
        #expect(try !EndpointID("ops::00D09E-HG-SN%201").isDerived(from: device))
        #expect(try !EndpointID("os::00D09F-SN%201").isDerived(from: device))
        #expect(try !EndpointID("proto::00D09E-SN%201").isDerived(from: device))
        for derived in device.derivedEndpointIDs {
            #expect(derived.isDerived(from: device))
        }
    }

    @Test func lookupKeyUpperCasesTheOUIOnly() throws {
        #expect(try EndpointID("os::00d09e-abc").lookupKey == "os::00D09E-abc")
        #expect(try EndpointID("self::abc").lookupKey == "self::abc")
    }
}

@Suite struct DeviceIdentifierTests {
    @Test func classifiesEachKind() throws {
        #expect(try DeviceIdentifier(parsing: "42") == .registryID(42))
        #expect(try DeviceIdentifier(parsing: "os::00D09E-1") == .endpoint(try EndpointID("os::00D09E-1")))
        #expect(try DeviceIdentifier(parsing: "00D09E-IGD-1") == .cwmp(try CWMPDeviceID(oui: "00D09E", productClass: "IGD", serialNumber: "1")))
    }

    @Test(arguments: ["", "0", "hello", "nothex-1", "os:x"])
    func rejectsGarbage(_ text: String) {
        #expect(throws: IdentityError.self) { try DeviceIdentifier(parsing: text) }
    }
}
