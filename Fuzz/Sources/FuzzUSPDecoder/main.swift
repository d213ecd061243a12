import USP

/// libFuzzer entry: the same bytes as a USP Record and as a USP Msg, and the Msg of a decoded
/// Record's payload.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzUSPDecoder(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    if let record = try? USPRecord(serializedBytes: bytes), case .noSessionContext(let payload) = record.kind {
        _ = try? USPMessage(serializedBytes: payload)
    }
    _ = try? USPMessage(serializedBytes: bytes)
    return 0
}
