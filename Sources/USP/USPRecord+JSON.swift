import SwiftProtobuf

extension USPRecord {
    /// The record in protobuf's canonical JSON mapping, for operators (`tandem usp decode`). When the
    /// record carries a NoSessionContext payload that decodes as a Message, the Message is included
    /// under `"msg"` in the same mapping.
    public func debugJSON(limits: USPDecodingLimits = .default) throws -> String {
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        let record = try proto.jsonString(options: options)
        guard case .noSessionContext = kind, let message = try? message(limits: limits) else {
            return "{\"record\":\(record)}"
        }
        return "{\"record\":\(record),\"msg\":\(try message.proto.jsonString(options: options))}"
    }
}
