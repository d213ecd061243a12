/// An Inform `EventCode` (TR-069 A.3.3.1, Table 7; cwmp-1-4.xsd `EventCodeType`). An open set:
/// vendor (`X <OUI> ...`) and method-specific (`M <Method>`) codes are representable.
public struct CWMPEventCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    public static let bootstrap: Self = "0 BOOTSTRAP"
    public static let boot: Self = "1 BOOT"
    public static let periodic: Self = "2 PERIODIC"
    public static let scheduled: Self = "3 SCHEDULED"
    public static let valueChange: Self = "4 VALUE CHANGE"
    public static let kicked: Self = "5 KICKED"
    public static let connectionRequest: Self = "6 CONNECTION REQUEST"
    public static let transferComplete: Self = "7 TRANSFER COMPLETE"
    public static let diagnosticsComplete: Self = "8 DIAGNOSTICS COMPLETE"
    public static let requestDownload: Self = "9 REQUEST DOWNLOAD"
    public static let autonomousTransferComplete: Self = "10 AUTONOMOUS TRANSFER COMPLETE"
    public static let duStateChangeComplete: Self = "11 DU STATE CHANGE COMPLETE"
    public static let autonomousDUStateChangeComplete: Self = "12 AUTONOMOUS DU STATE CHANGE COMPLETE"
    /// CWMP 1.4 (cwmp-1-4.xsd).
    public static let wakeup: Self = "13 WAKEUP"
    /// TR-069 Amendment 6 Annex O (not in any xsd comment).
    public static let heartbeat: Self = "14 HEARTBEAT"

    public static let mReboot: Self = "M Reboot"
    public static let mScheduleInform: Self = "M ScheduleInform"
    public static let mDownload: Self = "M Download"
    public static let mScheduleDownload: Self = "M ScheduleDownload"
    public static let mUpload: Self = "M Upload"
    public static let mChangeDUState: Self = "M ChangeDUState"

    /// `M <Method>`: a method-specific event that carries the method's CommandKey.
    public var isMethodSpecific: Bool { rawValue.hasPrefix("M ") }
    /// `X <OUI> <event>`: a vendor event.
    public var isVendor: Bool { rawValue.hasPrefix("X ") }

    public var description: String { rawValue }
}
