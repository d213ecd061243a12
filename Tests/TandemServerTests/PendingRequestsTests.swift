import Engine
import TandemCore
import Testing

/// msg_id / cwmp:ID correlation: answers before waiting, timeouts, failures, unknown ids.
@Suite struct PendingRequestsTests {
    @Test func anAnswerThatArrivesBeforeTheWaiterIsKept() async throws {
        let pending = PendingRequests<String, Int>()
        pending.register("a")
        #expect(pending.fulfil("a", with: 7))
        #expect(try await pending.wait(for: "a", timeout: .seconds(1), onTimeout: Fault(category: .unreachable, message: "late")) == 7)
        #expect(pending.count == 0)
    }

    @Test func aMissingAnswerTimesOutAndIsForgotten() async throws {
        let pending = PendingRequests<String, Int>()
        pending.register("b")
        let clock = ContinuousClock()
        let start = clock.now
        await #expect(throws: Fault(category: .unreachable, message: "no answer")) {
            try await pending.wait(for: "b", timeout: .milliseconds(100), onTimeout: Fault(category: .unreachable, message: "no answer"))
        }
        // Far below the 10 s a lost timer would take, and loose enough for a loaded machine.
        #expect(clock.now - start < .seconds(5))
        #expect(pending.count == 0)
        #expect(!pending.fulfil("b", with: 1))  // a late answer finds nobody
    }

    @Test func unknownAnswersAreRefusedAndFailuresPropagate() async throws {
        let pending = PendingRequests<String, Int>()
        #expect(!pending.fulfil("nobody", with: 1))
        pending.register("c")
        pending.fail("c", with: Fault(category: .unreachable, message: "peer gone"))
        await #expect(throws: Fault(category: .unreachable, message: "peer gone")) {
            try await pending.wait(for: "c", timeout: .seconds(1), onTimeout: Fault(category: .unreachable, message: "late"))
        }
    }

    @Test func waitersAreAnsweredWhileTheyWait() async throws {
        let pending = PendingRequests<Int, Int>()
        for id in 0..<50 { pending.register(id) }
        try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for id in 0..<50 {
                group.addTask { (id, try await pending.wait(for: id, timeout: .seconds(5), onTimeout: Fault(category: .unreachable, message: "late"))) }
            }
            try await Task.sleep(for: .milliseconds(20))
            for id in (0..<50).reversed() { #expect(pending.fulfil(id, with: id * 10)) }
            for try await (id, value) in group { #expect(value == id * 10) }
        }
    }
}
