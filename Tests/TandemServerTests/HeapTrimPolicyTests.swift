import Testing

@testable import TandemServer

/// When the server gives freed heap back: after the free bytes grow by the threshold, or by less
/// once they stop changing; never again for the same free bytes.
@Suite struct HeapTrimPolicyTests {
    /// Feeds the policy a sequence of free-byte readings; which of them trimmed.
    private static func decisions(threshold: Int, settled: Int = 1000, _ readings: [Int]) -> [Bool] {
        var policy = HeapTrimPolicy(threshold: threshold, settled: settled)
        return readings.map { policy.shouldTrim(freeBytes: $0) }
    }

    @Test func trimsOnceAfterABurstOfFreesAndAgainOnlyAfterTheNextBurst() {
        // The free chunks are still free chunks after a trim: no trim on every tick at 150.
        #expect(Self.decisions(threshold: 100, [0, 99, 150, 150, 249, 250]) == [false, false, true, false, false, true])
    }

    @Test func reuseOfFreedMemoryLowersTheMark() {
        // The allocator reused most of the 500 free bytes: the next burst counts from 120.
        #expect(Self.decisions(threshold: 100, [500, 120, 219, 220]) == [true, false, false, true])
    }

    @Test func aSmallerGrowthIsTrimmedOnceTheFreesSettle() {
        // 60 above the mark while still changing: wait; unchanged at the next reading: trim, once.
        #expect(Self.decisions(threshold: 100, settled: 40, [0, 30, 60, 60, 60, 62]) == [false, false, false, true, false, false])
    }
}
