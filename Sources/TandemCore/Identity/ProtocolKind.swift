/// The management protocols a device may speak.
public enum ManagementProtocol: String, Hashable, Sendable, Codable, CaseIterable {
    /// TR-069 CWMP.
    case cwmp
    /// TR-369 USP.
    case usp
}
