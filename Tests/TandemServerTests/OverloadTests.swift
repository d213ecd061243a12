import Engine
import Logging
import TandemServer
import Testing

/// The adaptive Retry-After of the overload 503s: measured drain rate, spread, bounded.
@Suite struct RetryAfterAdvisorTests {
    @Test func fixedWhenNotAdaptive() {
        var advisor = RetryAfterAdvisor(maximumSeconds: 60, adaptive: false)
        var random = SystemRandomNumberGenerator()
        #expect(advisor.advise(open: 10_000, at: .now, using: &random) == 60)
    }

    @Test func spreadsOverOneToTwoDrainPeriodsOfTheMeasuredRate() {
        var advisor = RetryAfterAdvisor(maximumSeconds: 60)
        var random = SystemRandomNumberGenerator()
        let start = ContinuousClock.now
        // 2,000 sessions end within one second: 2,000 sessions/s.
        advisor.sessionEnded(at: start)
        for index in 1..<2_000 { advisor.sessionEnded(at: start + .microseconds(index * 500)) }
        advisor.sessionEnded(at: start + .seconds(1))
        let rate = try! #require(advisor.sessionsPerSecond)
        #expect(abs(rate - 2_000) < 10)
        // 10,000 open sessions drain in about 5 s: answers between 5 and 10 s, not all the same.
        let answers = (0..<1_000).map { _ in advisor.advise(open: 10_000, at: start + .seconds(1), using: &random) }
        #expect(answers.allSatisfy { (5...10).contains($0) })
        // A thousand draws over six values: every value appears (missing one has odds below 1e-70).
        #expect(Set(answers).count == 6)
    }

    @Test func neverAboveTheMaximumNorBelowOneSecond() {
        var advisor = RetryAfterAdvisor(maximumSeconds: 30)
        var random = SystemRandomNumberGenerator()
        // Unmeasured: a prior of 1,000 sessions/s; 100,000 open sessions would be 100 s, capped at 30.
        #expect(advisor.advise(open: 100_000, at: .now, using: &random) == 30)
        // 10,000 open sessions at the prior: 10 to 20 s.
        #expect((10...20).contains(advisor.advise(open: 10_000, at: .now, using: &random)))
        // Few open sessions: at least one second.
        let few = (0..<100).map { _ in advisor.advise(open: 1, at: .now, using: &random) }
        #expect(few.allSatisfy { (1...1).contains($0) })
    }

    @Test func followsAFallingRateButAssumesNoSlowerPaceThanTheFloor() {
        var advisor = RetryAfterAdvisor(maximumSeconds: 600)
        var random = SystemRandomNumberGenerator()
        let start = ContinuousClock.now
        advisor.sessionEnded(at: start)
        for index in 1...4_000 { advisor.sessionEnded(at: start + .microseconds(index * 250)) }  // 4,000/s
        let fast = try! #require(advisor.sessionsPerSecond)
        #expect(abs(fast - 4_000) < 50)
        // 20,000 open sessions at 4,000/s: 5 to 10 s.
        #expect((5...10).contains(advisor.advise(open: 20_000, at: start + .seconds(1), using: &random)))
        // Then only 10 sessions end in the next two seconds: the measured rate drops...
        for index in 1...10 { advisor.sessionEnded(at: start + .seconds(1) + .milliseconds(index * 200)) }
        let slow = try! #require(advisor.sessionsPerSecond)
        #expect(slow < fast / 2)
        // ...but the advice assumes no less than 1,000/s: 20,000 open sessions, 20 to 40 s.
        let answers = (0..<100).map { _ in advisor.advise(open: 20_000, at: start + .seconds(3), using: &random) }
        #expect(answers.allSatisfy { (20...40).contains($0) })
    }
}

/// The CWMP listener's automatic connection cap.
@Suite struct OpenFileLimitTests {
    @Test func halfTheDescriptorsAndNeverBelow256() {
        #expect(OpenFileLimit.automaticCWMPConnections(limit: 20_000) == 10_000)
        #expect(OpenFileLimit.automaticCWMPConnections(limit: 1_048_576) == 524_288)
        #expect(OpenFileLimit.automaticCWMPConnections(limit: 100) == 256)
        #expect(OpenFileLimit.automaticCWMPConnections(limit: Int.max) == 1 << 29)
    }

    @Test func theServerCapsCPEConnectionsAutomaticallyOrAsConfigured() throws {
        let raised = OpenFileLimit.raiseToHardLimit()
        #expect(raised == OpenFileLimit.current)
        let directory = temporaryDirectory()
        defer { remove(directory) }
        var configuration = TandemConfiguration()
        configuration.dataDirectory = directory
        #expect(try TandemServer(configuration: configuration, logger: Logger(label: "limits")).cwmpConnectionLimit
            == OpenFileLimit.automaticCWMPConnections(limit: raised))
        configuration.cwmp.maxConnections = 77
        #expect(try TandemServer(configuration: configuration, logger: Logger(label: "limits")).cwmpConnectionLimit == 77)
    }
}
