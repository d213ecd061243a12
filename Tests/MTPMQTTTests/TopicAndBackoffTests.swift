import MTPMQTT
import Testing

/// The MQTT 3.1.1 "reply to" in the topic name (R-MQTT.24/25) and the checks on topics from the network.
@Suite struct ReplyToTopicTests {
    @Test func encodesEverySlashAsPercent2F() {
        #expect(MQTTTopics.encodeReplyTo("usp/controllers/oui:00256D:my-unique-bbf-id-42") == "usp%2Fcontrollers%2Foui:00256D:my-unique-bbf-id-42")
        #expect(MQTTTopics.encodeReplyTo("flat") == "flat")
    }

    /// The example of R-MQTT.24, without the stray space the specification text has after `=`.
    @Test func appendsTheSendersReplyToTheDestination() {
        let topic = MQTTTopics.topic(
            "usp/agents/cid:3AA3F8:my-unique-usp-id-42", withReplyTo: "usp/controllers/oui:00256D:my-unique-bbf-id-42")
        #expect(topic == "usp/agents/cid:3AA3F8:my-unique-usp-id-42/reply-to=usp%2Fcontrollers%2Foui:00256D:my-unique-bbf-id-42")
    }

    @Test func parsesTheReplyToAfterTheLastMarker() {
        #expect(
            MQTTTopics.replyTo(inTopic: "usp/controller/reply-to=usp%2Fagents%2Fos::00D09E-1") == "usp/agents/os::00D09E-1")
        // R-MQTT.25: the part after the *last* "/reply-to=".
        #expect(MQTTTopics.replyTo(inTopic: "a/reply-to=b/reply-to=c%2Fd") == "c/d")
        // Lower-case escapes are accepted too; nothing but %2F is unescaped.
        #expect(MQTTTopics.replyTo(inTopic: "t/reply-to=x%2fy%20z") == "x/y%20z")
    }

    @Test func aTopicWithoutAReplyToHasNone() {
        #expect(MQTTTopics.replyTo(inTopic: "usp/controller") == nil)
        #expect(MQTTTopics.replyTo(inTopic: "usp/controller/reply-to=") == nil)
        #expect(MQTTTopics.replyTo(inTopic: "usp/controller/reply-to") == nil)
        // "reply-to=" must start a level.
        #expect(MQTTTopics.replyTo(inTopic: "usp/controllerreply-to=x") == nil)
    }

    @Test func encodingRoundTrips() {
        for topic in ["a", "a/b", "usp/agents/os::00D09E-1", "x/y/z/w"] {
            #expect(MQTTTopics.replyTo(inTopic: MQTTTopics.topic("dest/topic", withReplyTo: topic)) == topic)
        }
    }

    @Test func acceptsOrdinaryAgentTopics() {
        for topic in ["usp/agents/os::00D09E-1", "a", "usp/v1/self::agent.x_y", "ünïcode/topic"] {
            #expect(MQTTTopics.problem(withDestination: topic) == nil, "\(topic)")
        }
    }

    @Test(arguments: [
        ("", MQTTTopicProblem.empty),
        ("usp/agents/+", .wildcard),
        ("usp/#", .wildcard),
        ("#", .wildcard),
        ("usp/a+b", .wildcard),
        ("usp/\u{0}/x", .nul),
        ("usp/\u{1B}[31m", .controlCharacter),
        ("usp/\u{85}x", .controlCharacter),
        ("/usp/agents", .emptyLevel),
        ("usp/agents/", .emptyLevel),
        ("usp//agents", .emptyLevel),
        ("/", .emptyLevel),
        ("$SYS/broker/clients", .reserved),
    ])
    func refusesHostileTopics(topic: String, problem: MQTTTopicProblem) {
        #expect(MQTTTopics.problem(withDestination: topic) == problem)
    }

    @Test func refusesOverLongTopics() {
        let topic = String(repeating: "a", count: 1025)
        #expect(MQTTTopics.problem(withDestination: topic) == .tooLong(bytes: 1025, limit: 1024))
        #expect(MQTTTopics.problem(withDestination: topic, maximumBytes: 2000) == nil)
        // Bytes of UTF-8 count, not characters.
        #expect(MQTTTopics.problem(withDestination: String(repeating: "é", count: 10), maximumBytes: 19) == .tooLong(bytes: 20, limit: 19))
    }

    @Test func refusesTheControllersOwnTopicAndBelow() {
        let own = ["usp/controller"]
        #expect(MQTTTopics.problem(withDestination: "usp/controller", ownTopics: own) == .ownTopic)
        #expect(MQTTTopics.problem(withDestination: "usp/controller/x", ownTopics: own) == .ownTopic)
        #expect(MQTTTopics.problem(withDestination: "usp/controllers", ownTopics: own) == nil)
    }
}

@Suite struct ReconnectBackoffTests {
    @Test func nominalDelaysDoubleUpToTheMaximum() {
        let backoff = ReconnectBackoff(initial: .seconds(1), maximum: .seconds(60), multiplier: 2, jitter: 0.5)
        let schedule = (0..<9).map { backoff.nominalDelay(attempt: $0) }
        #expect(close(schedule, [1, 2, 4, 8, 16, 32, 60, 60, 60].map { Duration.seconds($0) }))
    }

    @Test func jitterShortensEachWaitByAtMostTheJitterFraction() {
        let backoff = ReconnectBackoff(initial: .milliseconds(100), maximum: .seconds(10), multiplier: 3, jitter: 0.25)
        #expect(close(backoff.delay(attempt: 2, random: 0), .milliseconds(900)))
        #expect(close(backoff.delay(attempt: 2, random: 1), .milliseconds(675)))
        #expect(close(backoff.delay(attempt: 2, random: 0.5), .microseconds(787_500)))
        for attempt in 0..<20 {
            let nominal = backoff.nominalDelay(attempt: attempt)
            for _ in 0..<20 {
                let delay = backoff.delay(attempt: attempt)
                #expect(delay <= nominal + .microseconds(1))
                #expect(delay >= nominal * 0.75 - .microseconds(1))
            }
        }
    }

    @Test func randomDelaysAreSpreadOut() {
        let backoff = ReconnectBackoff(initial: .seconds(8), maximum: .seconds(8), jitter: 1)
        let delays = Set((0..<50).map { _ in backoff.delay(attempt: 0) })
        #expect(delays.count > 10)
    }

    @Test func hugeAttemptNumbersStayAtTheMaximum() {
        let backoff = ReconnectBackoff(initial: .milliseconds(50), maximum: .milliseconds(400), jitter: 0)
        #expect(close(backoff.delay(attempt: 1_000_000), .milliseconds(400)))
        #expect(close(backoff.delay(attempt: Int.max), .milliseconds(400)))
        #expect(close(backoff.nominalDelay(attempt: -3), .milliseconds(50)))
    }

    @Test func noJitterAndAMultiplierBelowOneAreClamped() {
        let backoff = ReconnectBackoff(initial: .seconds(2), maximum: .seconds(5), multiplier: 0.5, jitter: 0)
        #expect(close((0..<4).map { backoff.delay(attempt: $0, random: 0.9) }, [2, 2, 2, 2].map { Duration.seconds($0) }))
    }

    /// Equal to within a microsecond (the schedule is computed in floating point).
    func close(_ left: Duration, _ right: Duration) -> Bool {
        (left > right ? left - right : right - left) <= .microseconds(1)
    }

    func close(_ left: [Duration], _ right: [Duration]) -> Bool {
        left.count == right.count && zip(left, right).allSatisfy { close($0, $1) }
    }
}
