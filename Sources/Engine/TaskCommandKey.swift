/// The CommandKey Tandem puts on commands that report completion later (CWMP TransferComplete and
/// `M Reboot` events, USP OperationComplete and Boot!), so that the completion finds its task. One
/// format for both protocols.
public enum TaskCommandKey {
    public static func make(forTask id: Int64) -> String { "tandem-\(id)" }

    /// The task id in a CommandKey made by `make(forTask:)`, or nil for any other key.
    public static func taskID(in key: String) -> Int64? {
        guard key.hasPrefix("tandem-") else { return nil }
        return Int64(key.dropFirst("tandem-".count))
    }
}
