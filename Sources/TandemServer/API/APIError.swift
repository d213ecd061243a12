import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// An API failure rendered as JSON: `{"error": {"status": 404, "message": "..."}}`.
public struct APIError: Error, HTTPResponseError, Sendable, CustomStringConvertible {
    public let status: HTTPResponse.Status
    public let message: String
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.headers = headers
    }

    public var description: String { "\(status.code) \(message)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body: [String: [String: AnyEncodable]] = ["error": ["status": AnyEncodable(Int(status.code)), "message": AnyEncodable(message)]]
        var response = try jsonResponse(body, status: status)
        for field in headers { response.headers.append(field) }
        return response
    }

    static func unauthorized(_ message: String) -> APIError {
        var headers = HTTPFields()
        headers[.wwwAuthenticate] = #"Bearer realm="tandem""#
        return APIError(.unauthorized, message, headers: headers)
    }
}

/// Wraps an encodable value of any type, for small ad-hoc JSON bodies.
struct AnyEncodable: Encodable, Sendable {
    private let encodeValue: @Sendable (any Encoder) throws -> Void

    init<T: Encodable & Sendable>(_ value: T) {
        encodeValue = { encoder in try value.encode(to: encoder) }
    }

    func encode(to encoder: any Encoder) throws { try encodeValue(encoder) }
}
