import Foundation
import HTTPAuthentication
import HTTPTypes
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// The HTTP connection request listener of simulated devices (TR-069 3.2.2; protocol digest A.7):
/// one listener serves many devices, each at `/cr/<serial>`. A GET must authenticate with HTTP
/// Digest as the device's `ConnectionRequestUsername` / `ConnectionRequestPassword`; the device
/// then answers 200 and starts a session with `6 CONNECTION REQUEST`, or 503 while a session is in
/// progress (or it is rebooting).
///
/// Each registered device reports the URL it is reachable at as its `ConnectionRequestURL` once
/// the listener is bound (the real port when the configuration says 0).
public final class ConnectionRequestServer: Sendable {
    public struct Configuration: Sendable, Hashable {
        /// The address to bind; `0.0.0.0` or `::` for every interface.
        public var host: String
        /// 0 picks a free port.
        public var port: Int
        /// The host put in ConnectionRequestURLs. Defaults to `host`, or to the first non-loopback
        /// IPv4 address when `host` is a wildcard.
        public var advertisedHost: String?
        /// The Digest realm of the challenges.
        public var realm: String

        public init(host: String = "127.0.0.1", port: Int = 0, advertisedHost: String? = nil, realm: String = "tandem-sim connection request") {
            self.host = host
            self.port = port
            self.advertisedHost = advertisedHost
            self.realm = realm
        }

        /// Parses `host:port` (`[::1]:7547` for IPv6).
        public init(listen: String) throws(SimulatorError) {
            let text = listen.trimmingCharacters(in: .whitespaces)
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
                throw SimulatorError("\"\(listen)\" is not host:port")
            }
            var host = String(text[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty else { throw SimulatorError("\"\(listen)\" has no host") }
            self.init(host: host, port: port)
        }
    }

    private struct State {
        var baseURL: String?
        var failure: SimulatorError?
        var waiters: [CheckedContinuation<String, any Error>] = []
    }

    public let configuration: Configuration
    private let logger: Logger
    private let digest: DigestServer
    private let devices = NIOLockedValueBox<[String: SimulatedCPE]>([:])
    private let state = NIOLockedValueBox(State())

    public init(configuration: Configuration = Configuration(), devices: [SimulatedCPE] = [], logger: Logger = Logger(label: "tandem-sim")) {
        self.configuration = configuration
        self.logger = logger
        self.digest = DigestServer(realm: configuration.realm)
        self.devices.withLockedValue { table in
            for device in devices { table[device.serialNumber] = device }
        }
    }

    /// Serves `device` at `/cr/<serial>`; when the listener is already bound, the device learns
    /// its ConnectionRequestURL at once.
    public func register(_ device: SimulatedCPE) async {
        devices.withLockedValue { $0[device.serialNumber] = device }
        if let base = state.withLockedValue({ $0.baseURL }) {
            await device.setConnectionRequestURL(Self.url(base: base, serialNumber: device.serialNumber))
        }
    }

    /// `http://host:port`, once bound.
    public var baseURL: String? { state.withLockedValue { $0.baseURL } }

    /// The ConnectionRequestURL of the device with this serial number, once bound.
    public func connectionRequestURL(serialNumber: String) -> String? {
        baseURL.map { Self.url(base: $0, serialNumber: serialNumber) }
    }

    static func url(base: String, serialNumber: String) -> String { "\(base)/cr/\(percentEncodedInstance(serialNumber))" }

    /// Waits until the listener is bound and returns its base URL; throws when it could not bind.
    public func waitUntilListening() async throws -> String {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<String, any Error>) in
            let ready = state.withLockedValue { state -> Result<String, SimulatorError>? in
                if let base = state.baseURL { return .success(base) }
                if let failure = state.failure { return .failure(failure) }
                state.waiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }

    /// Runs the listener until the task is cancelled.
    public func run() async throws {
        state.withLockedValue { $0.failure = nil }
        let router = Router(context: BasicRequestContext.self)
        router.get("/cr/:serial") { request, context in
            await self.respond(to: request, serial: context.parameters.get("serial") ?? "")
        }
        // Hummingbird reports its own cancellation as an error; the listener's failures reach the
        // caller as thrown errors, so its log is kept to what debugging needs.
        var serverLogger = logger
        if serverLogger.logLevel > .debug { serverLogger.logLevel = .critical }
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "tandem-sim"),
            onServerRunning: { channel in await self.listening(on: channel) },
            logger: serverLogger)
        do {
            try await app.run()
        } catch is CancellationError {
        } catch {
            finish(SimulatorError("connection request listener on \(configuration.host):\(configuration.port) failed: \(error)"), persists: true)
            throw error
        }
        finish(SimulatorError("connection request listener stopped"), persists: false)
    }

    private func listening(on channel: any Channel) async {
        let port = channel.localAddress?.port ?? configuration.port
        let host = configuration.advertisedHost ?? Self.advertisableHost(for: configuration.host)
        let base = "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        for device in devices.withLockedValue({ Array($0.values) }) {
            await device.setConnectionRequestURL(Self.url(base: base, serialNumber: device.serialNumber))
        }
        let waiters = state.withLockedValue { state in
            state.baseURL = base
            defer { state.waiters = [] }
            return state.waiters
        }
        logger.debug("connection requests at \(base)/cr/<serial>")
        for waiter in waiters { waiter.resume(returning: base) }
    }

    /// The listener stopped: current waiters get `failure`; later ones too when it `persists`
    /// (the listener could not start), else they wait for the next run.
    private func finish(_ failure: SimulatorError, persists: Bool) {
        let waiters = state.withLockedValue { state in
            state.baseURL = nil
            if persists { state.failure = failure }
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(throwing: failure) }
    }

    private func respond(to request: Request, serial encoded: String) async -> Response {
        let serial = encoded.removingPercentEncoding ?? encoded
        guard let device = devices.withLockedValue({ $0[serial] }) else { return Response(status: .notFound) }
        guard let credentials = await device.connectionRequestCredentials() else { return Response(status: .serviceUnavailable) }
        if !credentials.username.isEmpty {
            guard let header = request.headers[.authorization] else { return challenge(stale: false) }
            var target = request.uri.path
            if let query = request.uri.query { target += "?" + query }
            // The answer must be for this resource, not one replayed from another device's URL.
            guard let answer = DigestAuthorization(headerValue: header), answer.uri == target || answer.uri == request.uri.string else {
                await device.connectionRequestRefused()
                return challenge(stale: false)
            }
            let verdict = digest.verify(authorization: header, method: request.method.rawValue) { username in
                username == credentials.username ? credentials.password : nil
            }
            switch verdict {
            case .accepted:
                break
            case .stale:
                return challenge(stale: true)
            case .rejected(let reason):
                logger.debug("connection request to \(serial) refused: \(reason)")
                await device.connectionRequestRefused()
                return challenge(stale: false)
            }
        }
        switch await device.connectionRequested() {
        case .accepted: return Response(status: .ok)
        case .busy, .unavailable: return Response(status: .serviceUnavailable)
        }
    }

    private func challenge(stale: Bool) -> Response {
        var headers = HTTPFields()
        for value in digest.challenges(stale: stale) { headers.append(HTTPField(name: .wwwAuthenticate, value: value)) }
        return Response(status: .unauthorized, headers: headers)
    }

    /// `host` itself, or for a wildcard the first non-loopback IPv4 address of the machine.
    static func advertisableHost(for host: String) -> String {
        guard host == "0.0.0.0" || host == "::" || host.isEmpty else { return host }
        let devices = (try? System.enumerateDevices()) ?? []
        for device in devices {
            if case .v4 = device.address, let ip = device.address?.ipAddress, !ip.hasPrefix("127.") { return ip }
        }
        return "127.0.0.1"
    }
}
