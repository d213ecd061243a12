import CWMP

/// libFuzzer entry: the SOAP decoder, as the ACS (CPE messages) and as the simulator (ACS messages).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSOAPDecoder(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    let decoder = CWMPDecoder(configuration: .init(maximumMessageBytes: 1 << 20))
    _ = try? decoder.decode(bytes, from: .cpe)
    _ = try? decoder.decode(bytes, from: .acs)
    return 0
}
