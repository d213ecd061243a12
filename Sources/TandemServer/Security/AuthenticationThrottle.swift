import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// Failed authentications per remote address: after `maxFailures` within `window`, the address gets
/// 429 Too Many Requests with Retry-After until the window has passed since its first failure.
/// Guessing API tokens or CPE passwords then costs a minute per ten guesses.
final class AuthenticationThrottle: Sendable {
    struct Settings: Sendable {
        var maxFailures = 10
        var window: Duration = .seconds(60)
        /// Addresses remembered at most; the oldest are forgotten first (bounded memory under a flood).
        var maxTrackedAddresses = 100_000
    }

    private struct Record {
        var firstFailure: ContinuousClock.Instant
        var failures: Int
    }

    let settings: Settings
    /// A lock, not an actor: every new CWMP session and API request checks it, and a hop per check
    /// costs more than the check.
    private let records = Mutex<[String: Record]>([:])

    init(settings: Settings = Settings()) {
        self.settings = settings
    }

    /// Seconds the address must wait, or nil when it may try.
    func retryAfter(_ address: String) -> Int? {
        let now = ContinuousClock.now
        return records.withLock { records in
            guard let record = records[address] else { return nil }
            let elapsed = now - record.firstFailure
            guard elapsed < settings.window else {
                records[address] = nil
                return nil
            }
            guard record.failures >= settings.maxFailures else { return nil }
            let remaining = settings.window - elapsed
            return max(1, Int((remaining / .seconds(1)).rounded(.up)))
        }
    }

    func recordFailure(_ address: String) {
        let now = ContinuousClock.now
        records.withLock { records in
            if var record = records[address], now - record.firstFailure < settings.window {
                record.failures += 1
                records[address] = record
                return
            }
            if records.count >= settings.maxTrackedAddresses, let oldest = records.min(by: { $0.value.firstFailure < $1.value.firstFailure })?.key {
                records[oldest] = nil
            }
            records[address] = Record(firstFailure: now, failures: 1)
        }
    }

    /// The 429 answer: JSON body naming the wait, and Retry-After (RFC 9110 10.2.3).
    static func tooManyRequests(retryAfter seconds: Int) -> Response {
        var headers = HTTPFields()
        headers[.retryAfter] = String(seconds)
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: .tooManyRequests, headers: headers, body: .init(byteBuffer: ByteBuffer(string: tooManyRequestsBody(retryAfter: seconds))))
    }

    /// The JSON body of the 429 answer (the API's and the CWMP listener's).
    static func tooManyRequestsBody(retryAfter seconds: Int) -> String {
        #"{"error":{"message":"too many failed authentications from this address; retry in \#(seconds) s","status":429}}"#
    }
}

extension SocketAddress {
    /// The key failed authentications are counted under: the IP address without the port.
    var throttleKey: String { ipAddress ?? "\(self)" }
}

/// Counts every 401 of the routes behind it against the caller's address and answers 429 once the
/// address has failed too often.
struct AuthenticationThrottleMiddleware<Context: RemoteAddressRequestContext>: RouterMiddleware {
    let throttle: AuthenticationThrottle

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let address = context.remoteAddress?.throttleKey ?? "unknown"
        if let wait = throttle.retryAfter(address) { return AuthenticationThrottle.tooManyRequests(retryAfter: wait) }
        do {
            let response = try await next(request, context)
            if response.status == .unauthorized { throttle.recordFailure(address) }
            return response
        } catch let error as any HTTPResponseError where error.status == .unauthorized {
            throttle.recordFailure(address)
            throw error
        }
    }
}

/// The request context of the API and CWMP listeners: the caller's address, for the throttle and
/// the CWMP session's record.
struct RemoteAddressContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}
