/// Chooses the Retry-After of the 503 answers that shed new CWMP sessions during an overload (an
/// Inform storm after a regional power cut).
///
/// A fixed value (GenieACS answers 60 s) makes every refused CPE come back in the same second, a
/// minute later, whatever the ACS's real pace: the storm repeats and the fleet waits longer than it
/// needs to. The advisor measures how fast sessions end, estimates how long the sessions open now take
/// to drain (at no slower a pace than 1,000 sessions/s), and spreads each refused CPE at random over
/// one to two such periods, never beyond the configured maximum. A pure value: the session manager owns it and feeds it the clock.
public struct RetryAfterAdvisor: Sendable {
    /// Upper bound of every answer, in seconds (`cwmp.retryAfterSeconds`).
    public var maximumSeconds: Int
    /// When false, every answer is `maximumSeconds` (the fixed behaviour).
    public var adaptive: Bool

    /// Sessions ended per second, smoothed; nil until measured.
    public private(set) var sessionsPerSecond: Double?
    private var windowStart: ContinuousClock.Instant?
    private var endedInWindow = 0

    /// The slowest pace assumed, measured or not.
    static let assumedSessionsPerSecond = 1_000.0

    /// Shortest window over which the rate is measured.
    static let minimumWindow: Duration = .milliseconds(250)

    public init(maximumSeconds: Int, adaptive: Bool = true) {
        self.maximumSeconds = max(1, maximumSeconds)
        self.adaptive = adaptive
    }

    /// A session ended (completed, timed out or rejected).
    public mutating func sessionEnded(at now: ContinuousClock.Instant) {
        endedInWindow += 1
        updateRate(at: now)
    }

    /// Seconds a CPE refused now should wait, with `open` sessions in progress.
    public mutating func advise<R: RandomNumberGenerator>(open: Int, at now: ContinuousClock.Instant, using random: inout R) -> Int {
        guard adaptive else { return maximumSeconds }
        updateRate(at: now)
        // Never assume a slower pace than 1,000 sessions/s (a two-core machine does 2,000–4,000;
        // BENCHMARKS.md). In a storm's first seconds the measured rate is low because every admitted
        // session is half done, not because the ACS is slow; a CPE told too short a wait is only
        // refused again, which costs one small answer, while one told too long a wait stays away.
        let rate = max(sessionsPerSecond ?? 0, Self.assumedSessionsPerSecond)
        let drain = Double(max(open, 1)) / rate
        let lower = min(maximumSeconds, max(1, Int(drain.rounded(.up))))
        let upper = min(maximumSeconds, max(lower, Int((drain * 2).rounded(.up))))
        return Int.random(in: lower...upper, using: &random)
    }

    private mutating func updateRate(at now: ContinuousClock.Instant) {
        guard let start = windowStart else {
            windowStart = now
            return
        }
        let elapsed = now - start
        guard elapsed >= Self.minimumWindow else { return }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let measured = Double(endedInWindow) / seconds
        // Half the weight to the newest window: follows a change within a second or two.
        sessionsPerSecond = sessionsPerSecond.map { ($0 + measured) / 2 } ?? measured
        windowStart = now
        endedInWindow = 0
    }
}
