import TandemCore
import Testing

/// The published 64-bit FNV-1a test vectors: the canary buckets, the registry's digest of an
/// Inform's names and the simulator's seeds all rest on these values staying as they are.
@Suite struct FNV1aTests {
    func hash(_ text: String) -> UInt64 {
        var hash = FNV1a()
        hash.add(text.utf8)
        return hash.value
    }

    @Test func matchesTheReferenceVectors() {
        #expect(hash("") == 0xcbf2_9ce4_8422_2325)
        #expect(hash("a") == 0xaf63_dc4c_8601_ec8c)
        #expect(hash("foobar") == 0x8594_4171_f739_67e8)
    }

    /// A word is one step, as a byte is: a word under 256 is the same as that byte.
    @Test func aWordIsOneStep() {
        var byte = FNV1a(), word = FNV1a()
        byte.add(0x1f)
        word.add(word: 0x1f)
        #expect(byte.value == word.value)
        word.add(word: 0x1_0000)
        #expect(word.value != byte.value)
    }
}
