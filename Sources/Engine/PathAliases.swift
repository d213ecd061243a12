import Foundation
import TandemCore

/// Common TR-181 (`Device.`) paths and their TR-098 (`InternetGatewayDevice.`) counterparts, so that
/// operators and policies write TR-181 paths for every device (the README lists the table).
///
/// An entry ending in `.` maps a whole subtree; `{i}` stands for an instance number and maps to the
/// same number on the other side.
public enum PathAliases {
    public static let table: [(tr181: String, tr098: String)] = [
        ("Device.DeviceInfo.", "InternetGatewayDevice.DeviceInfo."),
        ("Device.ManagementServer.", "InternetGatewayDevice.ManagementServer."),
        ("Device.Time.", "InternetGatewayDevice.Time."),
        ("Device.WiFi.SSID.{i}.SSID", "InternetGatewayDevice.LANDevice.1.WLANConfiguration.{i}.SSID"),
        ("Device.WiFi.SSID.{i}.Enable", "InternetGatewayDevice.LANDevice.1.WLANConfiguration.{i}.Enable"),
        ("Device.WiFi.SSID.{i}.Status", "InternetGatewayDevice.LANDevice.1.WLANConfiguration.{i}.Status"),
        ("Device.WiFi.SSID.{i}.BSSID", "InternetGatewayDevice.LANDevice.1.WLANConfiguration.{i}.BSSID"),
        ("Device.WiFi.Radio.{i}.Channel", "InternetGatewayDevice.LANDevice.1.WLANConfiguration.{i}.Channel"),
        ("Device.WiFi.Radio.{i}.AutoChannelEnable", "InternetGatewayDevice.LANDevice.1.WLANConfiguration.{i}.AutoChannelEnable"),
        ("Device.WiFi.AccessPoint.{i}.SSIDAdvertisementEnabled", "InternetGatewayDevice.LANDevice.1.WLANConfiguration.{i}.SSIDAdvertisementEnabled"),
        ("Device.WiFi.AccessPoint.{i}.Security.KeyPassphrase", "InternetGatewayDevice.LANDevice.1.WLANConfiguration.{i}.KeyPassphrase"),
        ("Device.WiFi.AccessPoint.{i}.AssociatedDeviceNumberOfEntries", "InternetGatewayDevice.LANDevice.1.WLANConfiguration.{i}.TotalAssociations"),
        ("Device.Hosts.Host.", "InternetGatewayDevice.LANDevice.1.Hosts.Host."),
        ("Device.Hosts.HostNumberOfEntries", "InternetGatewayDevice.LANDevice.1.Hosts.HostNumberOfEntries"),
        ("Device.IP.Interface.1.IPv4Address.1.IPAddress", "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANIPConnection.1.ExternalIPAddress"),
        ("Device.IP.Interface.1.IPv4Address.1.SubnetMask", "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANIPConnection.1.SubnetMask"),
        ("Device.Routing.Router.1.IPv4Forwarding.1.GatewayIPAddress", "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANIPConnection.1.DefaultGateway"),
    ]

    /// The TR-098 path for a TR-181 one, or nil when the table has none.
    public static func tr098(for path: String) -> String? { translate(path, from: \.tr181, to: \.tr098) }

    /// The TR-181 path for a TR-098 one, or nil when the table has none.
    public static func tr181(for path: String) -> String? { translate(path, from: \.tr098, to: \.tr181) }

    private static func translate(
        _ path: String, from source: KeyPath<(tr181: String, tr098: String), String>, to target: KeyPath<(tr181: String, tr098: String), String>
    ) -> String? {
        for entry in table {
            let pattern = entry[keyPath: source]
            if pattern.hasSuffix("."), !pattern.contains("{i}") {
                if path.hasPrefix(pattern) { return entry[keyPath: target] + path.dropFirst(pattern.count) }
                continue
            }
            if let instance = match(path, pattern) {
                return entry[keyPath: target].replacingOccurrences(of: "{i}", with: instance ?? "")
            }
        }
        return nil
    }

    /// Matches `path` against a pattern with at most one `{i}`; returns the instance (or nil inside
    /// the optional when the pattern has none), or nil when it does not match.
    private static func match(_ path: String, _ pattern: String) -> String?? {
        let segments = path.split(separator: ".", omittingEmptySubsequences: false)
        let patternSegments = pattern.split(separator: ".", omittingEmptySubsequences: false)
        guard segments.count == patternSegments.count else { return nil }
        var instance: String?
        for (segment, expected) in zip(segments, patternSegments) {
            if expected == "{i}" {
                guard !segment.isEmpty, segment.allSatisfy(\.isNumber) else { return nil }
                instance = String(segment)
            } else if segment != expected {
                return nil
            }
        }
        return .some(instance)
    }

    /// `operation` with every TR-181 path it names translated for a TR-098 device.
    /// - Throws: an `invalidPath` fault naming the first path without an alias.
    public static func forTR098(_ operation: TandemCore.Operation) throws(Fault) -> TandemCore.Operation {
        func convert(_ path: PathExpression) throws(Fault) -> PathExpression {
            let text = path.description
            guard text.hasPrefix("Device.") else { return path }
            guard let mapped = tr098(for: text), let expression = try? PathExpression(mapped) else {
                throw Fault(category: .invalidPath, message: "\(text) has no TR-098 alias for this InternetGatewayDevice (see the README's alias table)")
            }
            return expression
        }
        switch operation {
        case .get(let paths):
            var converted: [PathExpression] = []
            for path in paths { converted.append(try convert(path)) }
            return .get(paths: converted)
        case .set(let values, let allowPartial, let key):
            var converted: [ParameterSetting] = []
            for value in values { converted.append(ParameterSetting(path: try convert(value.path), value: value.value, required: value.required)) }
            return .set(values: converted, allowPartial: allowPartial, parameterKey: key)
        case .add(let object, let parameters):
            return .add(object: try convert(object), parameters: parameters)
        case .delete(let objects):
            var converted: [PathExpression] = []
            for object in objects { converted.append(try convert(object)) }
            return .delete(objects: converted)
        case .discover(let object, let nextLevel):
            return .discover(object: try convert(object), nextLevel: nextLevel)
        case .getAttributes(let paths):
            var converted: [PathExpression] = []
            for path in paths { converted.append(try convert(path)) }
            return .getAttributes(paths: converted)
        case .setAttributes(let settings):
            var converted: [AttributeSetting] = []
            for setting in settings {
                converted.append(AttributeSetting(path: try convert(setting.path), notification: setting.notification, accessList: setting.accessList))
            }
            return .setAttributes(converted)
        default:
            return operation
        }
    }

    /// A result's TR-098 paths written back as the TR-181 paths the operator used.
    public static func toTR181(_ result: OperationResult) -> OperationResult {
        var result = result
        for index in result.entries.indices {
            if let mapped = tr181(for: result.entries[index].path) { result.entries[index].path = mapped }
        }
        if let created = result.createdObject, let mapped = tr181(for: created) { result.createdObject = mapped }
        return result
    }
}
