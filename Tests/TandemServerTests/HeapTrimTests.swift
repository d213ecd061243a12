import Foundation
@testable import TandemServer
import Testing

#if canImport(Glibc)
import Glibc

/// `HeapTrimService`'s trim gives pages freed in the middle of the heap back to the kernel, which
/// glibc's `free` alone does not.
@Suite struct HeapTrimTests {
    static func residentKiB() throws -> Int {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
        return try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
    }

    @Test func trimReleasesPagesFreedInTheMiddleOfTheHeap() throws {
        // 80 MiB in 2 KiB blocks, touched so that they are resident; then all but every 32nd block
        // is freed: the survivors pin the heap's top, so free() cannot shrink it.
        let count = 40_000
        var blocks: [UnsafeMutableRawPointer] = []
        blocks.reserveCapacity(count)
        for _ in 0..<count {
            let block = try #require(malloc(2048))
            memset(block, 0xA5, 2048)
            blocks.append(block)
        }
        for (index, block) in blocks.enumerated() where index % 32 != 0 { free(block) }
        defer { for (index, block) in blocks.enumerated() where index % 32 == 0 { free(block) } }
        let before = try Self.residentKiB()
        #expect(HeapTrimService.trim())
        let after = try Self.residentKiB()
        // About 77 MiB were freed; at least half of it must leave the resident set.
        #expect(before - after > 38 * 1024, "RSS went from \(before) KiB to \(after) KiB")
    }
}
#endif
