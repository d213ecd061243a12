import ArgumentParser
import Foundation
import NIOHTTP1
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

        @Option(help: ArgumentHelp("List through this Tandem API instead of the local registry file (or TANDEM_SERVER).", valueName: "url"))
        var server: String?

        @Option(help: ArgumentHelp("API token (or TANDEM_TOKEN).", valueName: "token"))
        var token: String?

        @Option(
            name: .customLong("ca-file"),
            help: ArgumentHelp("PEM file of the CA that signed an HTTPS API's certificate (or TANDEM_CA_FILE).", valueName: "file"))
        var caFile: String?

        func run() async throws {
            let deviceFilter = try parseFilter()
            if let server = server ?? ProcessInfo.processInfo.environment["TANDEM_SERVER"] {
                try await listRemotely(server)
                return
            }
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

        /// The same listing through `GET /api/v1/devices`.
        func listRemotely(_ server: String) async throws {
            var remote = RemoteOptions()
            remote.server = server
            remote.token = token
            remote.json = json
            remote.caFile = caFile
            var query = ["limit=\(min(limit, 1000))"]
            for item in filter {
                guard let equals = item.firstIndex(of: "=") else { continue }
                query.append("\(item[..<equals])=\(APIClient.encode(String(item[item.index(after: equals)...])))")
            }
            let object = try await remote.client().call(.GET, "/api/v1/devices?" + query.joined(separator: "&"))
            let devices = (object as? [String: Any])?["devices"] as? [[String: Any]] ?? []
            if json {
                printJSON(devices)
                return
            }
            let rows = devices.map { device -> [String] in
                let active = device["activeProtocol"] as? String
                let protocols = (device["protocols"] as? [String] ?? []).map { $0 == active ? "\($0)*" : $0 }
                return [
                    "\(device["id"] ?? "")", (device["cwmpDeviceId"] ?? device["uspEndpointId"]) as? String ?? "-",
                    protocols.joined(separator: ","), device["manufacturer"] as? String ?? "-", device["modelName"] as? String ?? "-",
                    device["softwareVersion"] as? String ?? "-", device["lastContact"] as? String ?? "never",
                    (device["tags"] as? [String] ?? []).joined(separator: ","),
                ]
            }
            print(TextFormat.table(header: ["ID", "DEVICE", "PROTOCOL", "MANUFACTURER", "MODEL", "SOFTWARE", "LAST CONTACT", "TAGS"], rows: rows), terminator: "")
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
