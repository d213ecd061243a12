import CWMP
import Testing
import TandemCore

/// Pattern helpers: each returns the payload or records a failure and throws.
struct UnexpectedBody: Error, CustomStringConvertible {
    let body: CWMPBody
    let expected: String
    var description: String { "expected \(expected), decoded \(body.methodName)" }
}

extension CWMPEnvelope {
    func requireInform() throws -> CPERequest.Inform {
        guard case .cpeRequest(.inform(let inform)) = body else { throw UnexpectedBody(body: body, expected: "Inform") }
        return inform
    }

    func requireCPERequest() throws -> CPERequest {
        guard case .cpeRequest(let request) = body else { throw UnexpectedBody(body: body, expected: "a CPE request") }
        return request
    }

    func requireCPEResponse() throws -> CPEResponse {
        guard case .cpeResponse(let response) = body else { throw UnexpectedBody(body: body, expected: "a CPE response") }
        return response
    }

    func requireACSRequest() throws -> ACSRequest {
        guard case .acsRequest(let request) = body else { throw UnexpectedBody(body: body, expected: "an ACS request") }
        return request
    }

    func requireACSResponse() throws -> ACSResponse {
        guard case .acsResponse(let response) = body else { throw UnexpectedBody(body: body, expected: "an ACS response") }
        return response
    }

    func requireFault() throws -> CWMPFault {
        guard case .fault(let fault) = body else { throw UnexpectedBody(body: body, expected: "a Fault") }
        return fault
    }
}

/// Expects `body` to throw a `CWMPDecodingError` of `kind` and returns it.
@discardableResult
func expectDecodingError(
    _ kind: CWMPDecodingError.Kind, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws(CWMPDecodingError) -> CWMPEnvelope
) -> CWMPDecodingError? {
    do {
        let envelope = try body()
        Issue.record("expected a \(kind) error, decoded \(envelope.body.methodName)", sourceLocation: sourceLocation)
        return nil
    } catch {
        #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
        return error
    }
}

func dateTime(_ text: String) -> DateTimeValue {
    // Test inputs are known-good literals.
    try! DateTimeValue(parsing: text)
}
