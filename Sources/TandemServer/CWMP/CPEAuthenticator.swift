import HTTPAuthentication
import Registry
import TandemCore

/// Decides whether an HTTP request from a CPE may open a session (TR-069 3.4.4): HTTP Digest or
/// Basic with per-device credentials, stored in the registry or derived from templates. Open access
/// only when the configuration says so.
struct CPEAuthenticator: Sendable {
    enum Outcome: Sendable, Equatable {
        case accepted(username: String?)
        /// Answer 401 with these WWW-Authenticate values.
        case challenge([String])
    }

    let mode: CWMPAuthMode
    let digest: DigestServer
    let usernameTemplate: CredentialTemplate
    let passwordTemplate: CredentialTemplate?
    let registry: any RegistryStore

    init(configuration: TandemConfiguration.CWMP, registry: any RegistryStore) {
        self.mode = configuration.authMode
        self.digest = DigestServer(realm: "tandem")
        self.usernameTemplate = CredentialTemplate(configuration.usernameTemplate)
        self.passwordTemplate = configuration.passwordTemplate.map(CredentialTemplate.init)
        self.registry = registry
    }

    func authenticate(authorization: String?, method: String) async -> Outcome {
        switch mode {
        case .open:
            return .accepted(username: nil)
        case .basic:
            guard let authorization, let credentials = BasicCredentials(headerValue: authorization),
                let expected = await password(for: credentials.username),
                constantTimeEqual(expected, credentials.password)
            else { return .challenge([BasicCredentials.challenge(realm: digest.realm)]) }
            return .accepted(username: credentials.username)
        case .digest:
            guard let authorization, let answer = DigestAuthorization(headerValue: authorization) else {
                return .challenge(digest.challenges())
            }
            let expected = await password(for: answer.username)
            switch digest.verify(authorization: authorization, method: method, password: { _ in expected }) {
            case .accepted(let username): return .accepted(username: username)
            case .stale: return .challenge(digest.challenges(stale: true))
            case .rejected: return .challenge(digest.challenges())
            }
        }
    }

    /// The password a CPE presenting `username` must know: stored credentials first, then the
    /// password template applied to the identity the username template finds in the username.
    func password(for username: String) async -> String? {
        if let stored = try? await registry.cpeCredentials(username: username) { return stored.password }
        guard let passwordTemplate, let identity = usernameTemplate.identity(from: username) else { return nil }
        return passwordTemplate.render(identity)
    }
}
