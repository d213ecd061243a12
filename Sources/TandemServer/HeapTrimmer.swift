import CMalloc
import ServiceLifecycle

/// When to give freed heap memory back to the kernel: after a burst of frees, not on every tick.
///
/// glibc returns memory to the kernel on `free` only from the top of a heap. Memory freed in the
/// middle (task stacks of finished work, buffers of a connection wave) stays resident as free
/// chunks between long-lived objects, and RSS keeps the high-water mark of every burst: with
/// 2,000 idle WebSocket agents about a quarter of the heap was such free memory. `malloc_trim(0)`
/// releases the whole free pages among them (MADV_DONTNEED); it walks every free chunk, so it
/// runs only when the free bytes grew since it last ran: by `threshold` at once, or by `settled`
/// once they stop changing (the burst is over).
struct HeapTrimPolicy: Sendable {
    let threshold: Int
    let settled: Int
    /// Free bytes just after the last trim, lowered as the allocator reuses them.
    private(set) var baseline = 0
    private var previous = 0

    init(threshold: Int, settled: Int) {
        self.threshold = threshold
        self.settled = settled
    }

    /// Whether to trim now, given the allocator's free bytes.
    mutating func shouldTrim(freeBytes: Int) -> Bool {
        defer { previous = freeBytes }
        if freeBytes < baseline {
            baseline = freeBytes
            return false
        }
        let growth = freeBytes - baseline
        let quiet = abs(freeBytes - previous) < settled / 4
        guard growth >= threshold || (growth >= settled && quiet) else { return false }
        baseline = freeBytes
        return true
    }
}

/// Looks at the allocator's free bytes every `interval` and trims the heap after a burst of frees
/// (``HeapTrimPolicy``). Does nothing where the C library reports no statistics.
struct HeapTrimmer: Service {
    var interval: Duration = .seconds(2)
    var threshold = 8 << 20
    var settled = 1 << 20

    func run() async throws {
        let (interval, threshold, settled) = (interval, threshold, settled)
        await cancelWhenGracefulShutdown {
            var policy = HeapTrimPolicy(threshold: threshold, settled: settled)
            while !Task.isCancelled {
                do { try await Task.sleep(for: interval) } catch { return }
                if policy.shouldTrim(freeBytes: Int(tandem_malloc_free_bytes())) {
                    _ = tandem_malloc_trim()
                }
            }
        }
    }
}
