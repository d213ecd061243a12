import Foundation
import HTTPAuthentication
import Hummingbird
import Registry

/// Checks `Authorization: Bearer tdm_...` against the registry's tokens and the route's role.
struct APIAuthenticator: Sendable {
    let registry: any RegistryStore

    /// The token presenting this request, if it may use a route that needs `minimum`.
    func authorize(_ request: Request, minimum: APIRole) async throws -> APIToken {
        guard let header = request.headers[.authorization] else {
            throw APIError.unauthorized("missing bearer token (Authorization: Bearer tdm_...)")
        }
        guard let presented = BearerToken(header), let stored = try await registry.token(id: presented.id),
            stored.revokedAt == nil, presented.matches(storedHash: stored.secretHash)
        else {
            throw APIError.unauthorized("invalid or revoked token")
        }
        guard stored.role >= minimum else {
            throw APIError(.forbidden, "token \(stored.name) has role \(stored.role.rawValue); this needs \(minimum.rawValue)")
        }
        return stored
    }
}
