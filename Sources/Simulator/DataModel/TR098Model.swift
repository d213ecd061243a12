import TandemCore

/// A TR-098 `InternetGatewayDevice.` tree (IGD:1.4), as older gateways in the field still
/// report it: DeviceInfo, ManagementServer, Time, one LANDevice with two WLANConfigurations and
/// their hosts, one WAN IP connection.
enum TR098Model {
    static let definition = ObjectDefinition(
        [
            .string("DeviceSummary", "InternetGatewayDevice:1.4[](Baseline:2, EthernetLAN:1, WiFiLAN:2, Time:2)", forcedInform: true),
            .unsignedInt("LANDeviceNumberOfEntries"),
            .unsignedInt("WANDeviceNumberOfEntries"),
        ],
        children: [
            .object("DeviceInfo", deviceInfo),
            .object("ManagementServer", managementServer),
            .object("Time", time),
            .table("LANDevice", writable: false, count: "LANDeviceNumberOfEntries", lanDevice),
            .table("WANDevice", writable: false, count: "WANDeviceNumberOfEntries", wanDevice),
        ])

    static let deviceInfo = ObjectDefinition([
        .string("Manufacturer"), .string("ManufacturerOUI"), .string("ModelName"), .string("Description"), .string("ProductClass"),
        .string("SerialNumber"), .string("HardwareVersion", forcedInform: true), .string("SoftwareVersion", forcedInform: true),
        .string("SpecVersion", "1.0", forcedInform: true),
        .string("ProvisioningCode", writable: true, constraint: .maxLength(64), forcedInform: true),
        .unsignedInt("UpTime", deniesActiveNotification: true),
        .string("DeviceLog"),
    ])

    static let managementServer = ObjectDefinition([
        .string("URL", writable: true, constraint: .url),
        .string("Username", writable: true, constraint: .maxLength(256)),
        .string("Password", writable: true, constraint: .maxLength(256), hidden: true),
        .boolean("PeriodicInformEnable", true, writable: true),
        .unsignedInt("PeriodicInformInterval", 86_400, writable: true, constraint: .range(1...4_294_967_295)),
        .dateTime("PeriodicInformTime", writable: true),
        .string("ParameterKey", forcedInform: true),
        .string("ConnectionRequestURL", forcedInform: true),
        .string("ConnectionRequestUsername", writable: true, constraint: .maxLength(256)),
        .string("ConnectionRequestPassword", writable: true, constraint: .maxLength(256), hidden: true),
        .boolean("UpgradesManaged", false, writable: true),
        .unsignedInt("CWMPRetryMinimumWaitInterval", 5, writable: true, constraint: .range(1...65535)),
        .unsignedInt("CWMPRetryIntervalMultiplier", 2000, writable: true, constraint: .range(1000...65535)),
    ])

    static let time = ObjectDefinition([
        .boolean("Enable", true, writable: true),
        .string("Status", "Synchronized"),
        .string("NTPServer1", "pool.ntp.org", writable: true, constraint: .maxLength(64)),
        .string("NTPServer2", "", writable: true, constraint: .maxLength(64)),
        .dateTime("CurrentLocalTime", deniesActiveNotification: true),
        .string("LocalTimeZoneName", "UTC", writable: true, constraint: .maxLength(64)),
    ])

    static let lanDevice = ObjectDefinition(
        [.unsignedInt("LANWLANConfigurationNumberOfEntries")],
        children: [
            .table(
                "WLANConfiguration", writable: false, count: "LANWLANConfigurationNumberOfEntries",
                ObjectDefinition(
                    [
                        .boolean("Enable", true, writable: true),
                        .string("Status", "Up"),
                        .string("BSSID"),
                        .unsignedInt("Channel", 6, writable: true, constraint: .range(1...165)),
                        .boolean("AutoChannelEnable", true, writable: true),
                        .string("SSID", writable: true, constraint: .maxLength(32)),
                        .string("BeaconType", "11i", writable: true, constraint: .enumeration(["None", "Basic", "WPA", "11i", "WPAand11i"])),
                        .string("Standard", "n"),
                        .string("KeyPassphrase", writable: true, constraint: .length(8...63), hidden: true),
                        .boolean("SSIDAdvertisementEnabled", true, writable: true),
                        .unsignedInt("TotalAssociations", deniesActiveNotification: true),
                    ],
                    children: [
                        .table(
                            "PreSharedKey", writable: false, maxEntries: 10,
                            ObjectDefinition([
                                .string("PreSharedKey", writable: true, constraint: .maxLength(64), hidden: true),
                                .string("KeyPassphrase", writable: true, constraint: .length(8...63), hidden: true),
                                .string("AssociatedDeviceMACAddress", writable: true, constraint: .maxLength(17)),
                            ]))
                    ])),
            .object(
                "Hosts",
                ObjectDefinition(
                    [.unsignedInt("HostNumberOfEntries")],
                    children: [
                        .table(
                            "Host", writable: false, count: "HostNumberOfEntries",
                            ObjectDefinition([
                                .string("IPAddress"),
                                .string("AddressSource", "DHCP"),
                                .int("LeaseTimeRemaining", 86_400),
                                .string("MACAddress"),
                                .string("HostName"),
                                .string("InterfaceType", "802.11"),
                                .boolean("Active", true),
                            ]))
                    ])),
        ])

    static let wanDevice = ObjectDefinition(
        [.unsignedInt("WANConnectionNumberOfEntries")],
        children: [
            .table(
                "WANConnectionDevice", writable: true, count: "WANConnectionNumberOfEntries", maxEntries: 4,
                ObjectDefinition(
                    [.unsignedInt("WANIPConnectionNumberOfEntries")],
                    children: [
                        .table(
                            "WANIPConnection", writable: true, count: "WANIPConnectionNumberOfEntries", maxEntries: 4,
                            ObjectDefinition([
                                .boolean("Enable", false, writable: true),
                                .string("ConnectionStatus", "Unconfigured"),
                                .string("Name", writable: true, constraint: .maxLength(256)),
                                .string(
                                    "ConnectionType", "IP_Routed", writable: true,
                                    constraint: .enumeration(["Unconfigured", "IP_Routed", "IP_Bridged"])),
                                .string("AddressingType", "DHCP", writable: true, constraint: .enumeration(["DHCP", "Static"])),
                                .string("ExternalIPAddress", writable: true, constraint: .maxLength(15)),
                                .string("SubnetMask", writable: true, constraint: .maxLength(15)),
                                .string("DefaultGateway", writable: true, constraint: .maxLength(15)),
                                .string("DNSServers", writable: true, constraint: .maxLength(64)),
                                .string("MACAddress"),
                            ]))
                    ]))
        ])

    static func make(_ profile: DeviceProfile) -> DataModel {
        var model = DataModel(rootName: "InternetGatewayDevice", definition: definition)
        var seed = DeviceSeed(profile.serialNumber)
        let root = "InternetGatewayDevice."
        let info = root + "DeviceInfo."
        model.set(info + "Manufacturer", .string(profile.manufacturer))
        model.set(info + "ManufacturerOUI", .string(profile.oui))
        model.set(info + "ModelName", .string(profile.modelName))
        model.set(info + "Description", .string("\(profile.manufacturer) \(profile.modelName) simulated home gateway"))
        model.set(info + "ProductClass", .string(profile.productClass))
        model.set(info + "SerialNumber", .string(profile.serialNumber))
        model.set(info + "HardwareVersion", .string(profile.hardwareVersion))
        model.set(info + "SoftwareVersion", .string(profile.softwareVersion))
        let management = root + "ManagementServer."
        model.set(management + "URL", .string(profile.acsURL))
        model.set(management + "Username", .string(profile.acsUsername))
        model.set(management + "Password", .string(profile.acsPassword))
        model.set(management + "PeriodicInformEnable", .boolean(profile.periodicInformEnable))
        model.set(management + "PeriodicInformInterval", .unsignedInt(profile.periodicInformInterval))
        model.set(management + "ConnectionRequestUsername", .string(profile.connectionRequestUsername))
        model.set(management + "ConnectionRequestPassword", .string(profile.connectionRequestPassword))

        let suffix = String(profile.serialNumber.suffix(4))
        model.addInstance(to: root + "LANDevice.")
        let lan = root + "LANDevice.1."
        for index in 1...2 {
            let passphrase = "sim-\(profile.serialNumber.lowercased())"
            model.addInstance(to: lan + "WLANConfiguration.", values: [
                "BSSID": .string(seed.macAddress()), "Channel": .unsignedInt(index == 1 ? 6 : 36), "Standard": .string(index == 1 ? "n" : "ac"),
                "SSID": .string(index == 1 ? "Tandem-\(suffix)" : "Tandem-\(suffix)-5G"), "KeyPassphrase": .string(passphrase),
                "TotalAssociations": .unsignedInt(index == 1 ? 2 : 1),
            ])
            model.addInstance(to: lan + "WLANConfiguration.\(index).PreSharedKey.", values: ["KeyPassphrase": .string(passphrase)])
        }
        for (index, name) in ["laptop", "phone", "tv"].enumerated() {
            model.addInstance(to: lan + "Hosts.Host.", values: [
                "IPAddress": .string("192.168.1.\(100 + index)"), "MACAddress": .string(seed.macAddress()),
                "HostName": .string("\(name)-\(suffix.lowercased())"),
            ])
        }
        model.addInstance(to: root + "WANDevice.")
        model.addInstance(to: root + "WANDevice.1.WANConnectionDevice.")
        model.addInstance(to: root + "WANDevice.1.WANConnectionDevice.1.WANIPConnection.", values: [
            "Enable": .boolean(true), "ConnectionStatus": .string("Connected"), "Name": .string("wan"),
            "ExternalIPAddress": .string(seed.wanAddress()), "SubnetMask": .string("255.192.0.0"), "DefaultGateway": .string("100.64.0.1"),
            "DNSServers": .string("100.64.0.1"), "MACAddress": .string(seed.macAddress()),
        ])
        return model
    }

    /// Parameters an IGD reports in every Inform besides the forced ones of the tree: the WAN
    /// address the ACS uses to reach it (common practice, as in TR-098 devices of the field).
    static let extraInformParameters = ["InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANIPConnection.1.ExternalIPAddress"]
}
