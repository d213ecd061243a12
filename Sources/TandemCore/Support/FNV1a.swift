/// 64-bit FNV-1a: a fast, stable, non-cryptographic hash for values that must come out the same on
/// every run and every machine (canary buckets, the registry's digest of an Inform's names, the
/// simulator's per-device seeds). Not for anything an attacker should not be able to collide.
public struct FNV1a: Sendable {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    private static let prime: UInt64 = 0x0000_0100_0000_01b3

    /// Mixes in one byte.
    public mutating func add(_ byte: UInt8) {
        add(word: UInt64(byte))
    }

    /// Mixes in every byte of `bytes`, in order.
    public mutating func add<Bytes: Sequence<UInt8>>(_ bytes: Bytes) {
        for byte in bytes { add(byte) }
    }

    /// Mixes in a whole 64-bit word in one step (as FNV-1a does a byte: xor, then multiply).
    public mutating func add(word: UInt64) {
        value = (value ^ word) &* Self.prime
    }
}
