import AsyncHTTPClient
import Foundation
import HTTPAuthentication
import NIOCore
import NIOHTTP1

/// Credentials the CPE expects on a Connection Request
/// (`ManagementServer.ConnectionRequestUsername` / `ConnectionRequestPassword`).
public struct ConnectionRequestCredentials: Sendable, Hashable {
    public var username: String
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }
}

/// What became of a Connection Request.
public enum ConnectionRequestOutcome: Sendable, Equatable, CustomStringConvertible {
    /// 200 or 204: the CPE will open a session with `6 CONNECTION REQUEST` (TR-069 3.2.2).
    case accepted(status: Int)
    /// 503: a session is already in progress, or a CPE proxier's device is offline (TR-069 Annex J).
    case busy
    /// 401 even after answering the challenge: the stored credentials are wrong.
    case authenticationFailed
    case unexpectedStatus(Int)
    /// No TCP connection or no answer in time.
    case unreachable(String)

    public var isAccepted: Bool {
        if case .accepted = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .accepted(let status): "accepted (HTTP \(status))"
        case .busy: "device busy or offline behind its proxier (HTTP 503)"
        case .authenticationFailed: "the device refused the connection request credentials (HTTP 401)"
        case .unexpectedStatus(let status): "unexpected HTTP \(status)"
        case .unreachable(let reason): "unreachable: \(reason)"
        }
    }
}

/// Sends HTTP Connection Requests (TR-069 3.2.2): a GET with no body to the device's
/// ConnectionRequestURL, answering a Digest challenge (or a Basic one, only when allowed).
public struct ConnectionRequestClient: Sendable {
    private let client: HTTPClient
    /// Basic sends the password in the clear; TR-069 expects Digest on connection requests.
    public var allowBasic = false

    public init(client: HTTPClient = .shared) {
        self.client = client
    }

    public func send(to url: String, credentials: ConnectionRequestCredentials?, timeout: Duration = .seconds(5)) async -> ConnectionRequestOutcome {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), scheme == "http" || scheme == "https",
            parsed.host != nil
        else {
            return .unreachable("invalid connection request URL \"\(url)\"")
        }
        var target = parsed.path.isEmpty ? "/" : parsed.path
        if let query = parsed.query { target += "?" + query }
        do {
            let first = try await get(url, authorization: nil, timeout: timeout)
            guard first.status == 401 else { return Self.outcome(first.status) }
            guard let credentials else { return .authenticationFailed }
            var digest = DigestClient(username: credentials.username, password: credentials.password)
            let authorization: String
            if let answer = digest.authorization(for: first.challenges, method: "GET", uri: target) {
                authorization = answer
            } else if allowBasic, first.challenges.contains(where: { $0.lowercased().hasPrefix("basic") }) {
                authorization = BasicCredentials(username: credentials.username, password: credentials.password).headerValue
            } else {
                return .authenticationFailed
            }
            let second = try await get(url, authorization: authorization, timeout: timeout)
            return second.status == 401 ? .authenticationFailed : Self.outcome(second.status)
        } catch {
            return .unreachable(Self.describe(error))
        }
    }

    private static func outcome(_ status: Int) -> ConnectionRequestOutcome {
        switch status {
        case 200, 204: .accepted(status: status)
        case 503: .busy
        case 401: .authenticationFailed
        default: .unexpectedStatus(status)
        }
    }

    private func get(_ url: String, authorization: String?, timeout: Duration) async throws -> (status: Int, challenges: [String]) {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        let response = try await client.execute(request, timeout: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000))
        // Drain a little of the body so the connection can be reused; a CPE has nothing to say here.
        _ = try? await response.body.collect(upTo: 16 * 1024)
        return (Int(response.status.code), response.headers["WWW-Authenticate"])
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            if error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout { return "no answer in time" }
            return "\(error)"
        }
        return "\(error)"
    }
}
