/// How long to wait before connection attempt `n` after a failure or a loss: exponential growth from
/// `initial` by `multiplier`, capped at `maximum`, with random jitter that shortens each wait by up to
/// `jitter` of itself so that many controllers (or agents) losing one broker do not come back in step.
///
/// Attempt 0 is the first retry after a loss or failed attempt; a successful connection starts again at 0.
/// With the defaults (1 s, ×2, 60 s, jitter 0.5) the nominal waits are 1, 2, 4, 8, 16, 32, 60, 60, … s
/// and each actual wait lies in [nominal / 2, nominal].
public struct ReconnectBackoff: Sendable, Equatable {
    public var initial: Duration
    public var maximum: Duration
    public var multiplier: Double
    /// 0 (no jitter) ... 1 (anywhere between zero and the nominal wait).
    public var jitter: Double

    public init(initial: Duration = .seconds(1), maximum: Duration = .seconds(60), multiplier: Double = 2, jitter: Double = 0.5) {
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
        self.jitter = jitter
    }

    /// The wait before attempt `attempt` without jitter.
    public func nominalDelay(attempt: Int) -> Duration {
        let initialSeconds = Self.seconds(initial)
        let maximumSeconds = max(Self.seconds(maximum), 0)
        let grown = initialSeconds * power(max(multiplier, 1), max(attempt, 0))
        return .seconds(min(max(grown, 0), maximumSeconds))
    }

    /// The wait before attempt `attempt`; `random` in 0..<1 picks the point in the jitter range.
    public func delay(attempt: Int, random: Double) -> Duration {
        let nominal = Self.seconds(nominalDelay(attempt: attempt))
        let fraction = min(max(jitter, 0), 1) * min(max(random, 0), 1)
        return .seconds(nominal * (1 - fraction))
    }

    /// The wait before attempt `attempt`, jittered with the system random generator.
    public func delay(attempt: Int) -> Duration {
        delay(attempt: attempt, random: Double.random(in: 0..<1))
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

/// `pow` without Foundation: repeated multiplication is exact enough for a few dozen attempts, and
/// stops growing once past any sensible cap.
private func power(_ base: Double, _ exponent: Int) -> Double {
    var result = 1.0
    var remaining = exponent
    while remaining > 0 && result < 1e12 {
        result *= base
        remaining -= 1
    }
    return result
}
