@testable import TandemServer
import Testing

/// The session cookie and charset the CWMP front end reads from every POST's headers, including the
/// deviations CPEs are known for (TR-069 A.11: `,` separators, quoted values, odd spacing).
@Suite struct CWMPHeaderParsingTests {
    @Test(arguments: [
        ("session=abc123", "abc123"),
        ("session=abc123; Path=/", "abc123"),
        ("other=1; session=abc123", "abc123"),
        ("other=1,session=abc123", "abc123"),
        ("  session=\"abc123\"  ; x=y", "abc123"),
        ("\tsession=abc123\t", "abc123"),
        ("sessionx=1; session=zz", "zz"),
    ])
    func sessionCookieIsFound(header: String, expected: String) {
        #expect(CWMPFrontEnd.sessionCookie(header) == expected)
    }

    @Test(arguments: [nil, "", "session=", "session=\"\"", "xsession=abc", "sessions=abc", "other=1; foo=bar", "session"])
    func noSessionCookie(header: String?) {
        #expect(CWMPFrontEnd.sessionCookie(header) == nil)
    }

    @Test(arguments: [
        ("text/xml; charset=utf-8", "utf-8"),
        ("text/xml;charset=\"ISO-8859-1\"", "ISO-8859-1"),
        ("text/xml; CharSet=UTF-8; foo=bar", "UTF-8"),
        ("text/xml; boundary=x; charset = utf-8", nil),
        ("text/xml; boundary=x;  charset=utf-16 ", "utf-16"),
    ] as [(String, String?)])
    func charsetIsRead(header: String, expected: String?) {
        #expect(CWMPFrontEnd.charset(header) == expected)
    }

    @Test(arguments: [nil, "text/xml", "text/xml; charset=", "text/xml; xcharset=utf-8"])
    func noCharset(header: String?) {
        #expect(CWMPFrontEnd.charset(header) == nil)
    }
}
