import Testing

@testable import TandemServer

/// When the server gives freed heap back: after the free bytes grow by the threshold, once.
@Suite struct HeapTrimPolicyTests {
    @Test func trimsOnceAfterABurstOfFreesAndAgainOnlyAfterTheNextBurst() {
        var policy = HeapTrimPolicy(threshold: 100)
        #expect(!policy.shouldTrim(freeBytes: 0))
        #expect(!policy.shouldTrim(freeBytes: 99))
        #expect(policy.shouldTrim(freeBytes: 150))
        // The free chunks are still free chunks after the trim: no trim on every tick.
        #expect(!policy.shouldTrim(freeBytes: 150))
        #expect(!policy.shouldTrim(freeBytes: 249))
        #expect(policy.shouldTrim(freeBytes: 250))
    }

    @Test func reuseOfFreedMemoryLowersTheMark() {
        var policy = HeapTrimPolicy(threshold: 100)
        #expect(policy.shouldTrim(freeBytes: 500))
        #expect(!policy.shouldTrim(freeBytes: 120))  // the allocator reused most of it
        #expect(!policy.shouldTrim(freeBytes: 219))
        #expect(policy.shouldTrim(freeBytes: 220))
    }
}
