import ArgumentParser
import Foundation
import Registry
import TandemCore
import TandemServer

extension Tandem {
    struct Devices: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the devices in the registry (a table, or JSON with --json).")

        @OptionGroup var options: ConfigurationOptions

        @Option(
            name: .long,
            help: ArgumentHelp(
                "Filter as key=value; repeatable. Keys: protocol, active, manufacturer, productClass, oui, softwareVersion, tag, text.",
                valueName: "key=value"))
        var filter: [String] = []

        @Option(help: "Largest number of devices to list.")
        var limit: Int = 100

        @Flag(help: "Print JSON for scripts instead of a table.")
        var json = false

        func run() async throws {
            let deviceFilter = try parseFilter()
            let configuration = try options.load()
            let store: SQLiteRegistryStore
            do {
                store = try SQLiteRegistryStore(dataDirectory: configuration.dataDirectory)
            } catch {
                printError("tandem: cannot open the registry under \(configuration.dataDirectory): \(error)")
                throw ExitCode.failure
            }
            let devices = try await store.devices(matching: deviceFilter, page: Page(limit: limit))
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                encoder.dateEncodingStrategy = .iso8601
                print(String(decoding: try encoder.encode(devices.map(DeviceSummary.init)), as: UTF8.self))
            } else {
                print(DeviceTable.render(devices, now: Date()), terminator: "")
            }
        }

        func parseFilter() throws -> DeviceFilter {
            var result = DeviceFilter()
            for item in filter {
                guard let equals = item.firstIndex(of: "=") else {
                    throw ValidationError("--filter \(item): expected key=value")
                }
                let key = String(item[..<equals])
                let value = String(item[item.index(after: equals)...])
                switch key {
                case "protocol", "active":
                    guard let proto = ManagementProtocol(rawValue: value.lowercased()) else {
                        throw ValidationError("--filter \(item): protocol is cwmp or usp")
                    }
                    if key == "protocol" { result.protocolSpoken = proto } else { result.activeProtocol = proto }
                case "manufacturer": result.manufacturer = value
                case "productClass": result.productClass = value
                case "oui": result.oui = value
                case "softwareVersion": result.softwareVersion = value
                case "tag": result.tag = value
                case "text": result.text = value
                default:
                    throw ValidationError("--filter \(item): unknown key \(key) (protocol, active, manufacturer, productClass, oui, softwareVersion, tag, text)")
                }
            }
            guard limit > 0 else { throw ValidationError("--limit must be at least 1") }
            return result
        }
    }
}

/// The table people read.
enum DeviceTable {
    static func render(_ devices: [Device], now: Date) -> String {
        guard !devices.isEmpty else { return "No devices.\n" }
        let header = ["ID", "DEVICE", "PROTOCOL", "MANUFACTURER", "MODEL", "SOFTWARE", "LAST CONTACT", "TAGS"]
        let rows = devices.map { device -> [String] in
            let protocols = device.protocols.map(\.rawValue).sorted().map { $0 == device.activeProtocol?.rawValue ? "\($0)*" : $0 }
            return [
                String(device.id),
                device.cwmpDeviceID ?? device.uspEndpointID ?? "-",
                protocols.isEmpty ? "-" : protocols.joined(separator: ","),
                device.manufacturer.isEmpty ? "-" : device.manufacturer,
                device.modelName.isEmpty ? (device.productClass.isEmpty ? "-" : device.productClass) : device.modelName,
                device.softwareVersion.isEmpty ? "-" : device.softwareVersion,
                device.lastContact.map { TextFormat.localTime($0) + " (" + TextFormat.age(of: $0, now: now) + ")" } ?? "never",
                device.tags.isEmpty ? "-" : device.tags.joined(separator: ","),
            ]
        }
        return TextFormat.table(header: header, rows: rows) + "\n* active protocol\n"
    }
}
