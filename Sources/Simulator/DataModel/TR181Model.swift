import TandemCore

/// A home gateway's TR-181 Issue 2 `Device.` tree, CWMP view (Device:2.19): the objects an ACS
/// touches first (DeviceInfo, ManagementServer, Time, WiFi, Hosts, IP) plus the `USPAgent.` and
/// `MQTT.Client.` tables an ACS fills in to move the device to USP (protocol digest D.1, D.2).
enum TR181Model {
    typealias P = ParameterDefinition
    typealias O = ChildObjectDefinition

    static let definition = ObjectDefinition(
        [
            .string("RootDataModelVersion", "2.19", forcedInform: true),
            .unsignedInt("InterfaceStackNumberOfEntries"),
        ],
        children: [
            .object("DeviceInfo", deviceInfo),
            .object("ManagementServer", managementServer),
            .object("Time", time),
            .object("WiFi", wifi),
            .object(
                "Hosts",
                ObjectDefinition([.unsignedInt("HostNumberOfEntries")], children: [.table("Host", writable: false, count: "HostNumberOfEntries", host)])),
            .object("IP", ip),
            .object("USPAgent", uspAgent),
            .object(
                "MQTT",
                ObjectDefinition(
                    [.unsignedInt("ClientNumberOfEntries")],
                    children: [.table("Client", writable: true, count: "ClientNumberOfEntries", maxEntries: 8, mqttClient)])),
            .object(
                "STOMP",
                ObjectDefinition(
                    [.unsignedInt("ConnectionNumberOfEntries")],
                    children: [.table("Connection", writable: true, count: "ConnectionNumberOfEntries", maxEntries: 4, stompConnection)])),
        ])

    static let deviceInfo = ObjectDefinition(
        [
            .string("Manufacturer"), .string("ManufacturerOUI"), .string("ModelName"), .string("Description"), .string("ProductClass"),
            .string("SerialNumber"), .string("HardwareVersion", forcedInform: true), .string("SoftwareVersion", forcedInform: true),
            .string("AdditionalSoftwareVersion"),
            .string("ProvisioningCode", writable: true, constraint: .maxLength(64), forcedInform: true),
            .unsignedInt("UpTime", deniesActiveNotification: true),
            .dateTime("FirstUseDate"),
        ],
        children: [
            .object("MemoryStatus", ObjectDefinition([.unsignedInt("Total", 524_288), .unsignedInt("Free", 312_400, deniesActiveNotification: true)])),
            .object("ProcessStatus", ObjectDefinition([.unsignedInt("CPUUsage", 7, constraint: .range(0...100), deniesActiveNotification: true)])),
        ])

    static let managementServer = ObjectDefinition([
        .boolean("EnableCWMP", true, writable: true),
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
        .unsignedInt("DefaultActiveNotificationThrottle", 0, writable: true),
        .unsignedInt("CWMPRetryMinimumWaitInterval", 5, writable: true, constraint: .range(1...65535)),
        .unsignedInt("CWMPRetryIntervalMultiplier", 2000, writable: true, constraint: .range(1000...65535)),
        .boolean("AliasBasedAddressing", false, forcedInform: true),
        .string("SupportedConnReqMethods", "HTTP"),
        .boolean("HTTPConnectionRequestEnable", true, writable: true),
    ])

    static let time = ObjectDefinition([
        .boolean("Enable", true, writable: true),
        .string("Status", "Synchronized"),
        .string("NTPServer1", "pool.ntp.org", writable: true, constraint: .maxLength(64)),
        .string("NTPServer2", "", writable: true, constraint: .maxLength(64)),
        .dateTime("CurrentLocalTime", deniesActiveNotification: true),
        .string("LocalTimeZone", "UTC", writable: true, constraint: .maxLength(256)),
    ])

    static let wifi = ObjectDefinition(
        [.unsignedInt("RadioNumberOfEntries"), .unsignedInt("SSIDNumberOfEntries"), .unsignedInt("AccessPointNumberOfEntries")],
        children: [
            .table("Radio", writable: false, count: "RadioNumberOfEntries", radio),
            .table("SSID", writable: true, count: "SSIDNumberOfEntries", maxEntries: 16, ssid),
            .table("AccessPoint", writable: true, count: "AccessPointNumberOfEntries", maxEntries: 16, accessPoint),
        ])

    static let radio = ObjectDefinition([
        .boolean("Enable", true, writable: true),
        .string("Status", "Up"),
        .string("Alias", writable: true, constraint: .maxLength(64)),
        .string("Name"),
        .string("OperatingFrequencyBand", "2.4GHz", writable: true, constraint: .enumeration(["2.4GHz", "5GHz", "6GHz"])),
        .string("SupportedStandards", "b,g,n,ax"),
        .string("OperatingStandards", "g,n,ax", writable: true, constraint: .list(of: ["a", "b", "g", "n", "ac", "ax", "be"])),
        .unsignedInt("Channel", 1, writable: true, constraint: .range(1...233)),
        .boolean("AutoChannelEnable", true, writable: true),
        .int("TransmitPower", 100, writable: true, constraint: .range(-1...100)),
    ])

    static let ssid = ObjectDefinition([
        .boolean("Enable", false, writable: true),
        .string("Status", "Down"),
        .string("Alias", writable: true, constraint: .maxLength(64)),
        .string("Name"),
        .string("LowerLayers", writable: true, constraint: .maxLength(1024)),
        .string("BSSID"),
        .string("MACAddress"),
        .string("SSID", writable: true, constraint: .maxLength(32)),
    ])

    static let accessPoint = ObjectDefinition(
        [
            .boolean("Enable", false, writable: true),
            .string("Status", "Disabled"),
            .string("Alias", writable: true, constraint: .maxLength(64)),
            .string("SSIDReference", writable: true, constraint: .maxLength(256)),
            .boolean("SSIDAdvertisementEnabled", true, writable: true),
            .unsignedInt("AssociatedDeviceNumberOfEntries", deniesActiveNotification: true),
        ],
        children: [
            .object(
                "Security",
                ObjectDefinition([
                    .string("ModesSupported", "None,WPA2-Personal,WPA3-Personal,WPA2-WPA3-Personal"),
                    .string(
                        "ModeEnabled", "WPA2-Personal", writable: true,
                        constraint: .enumeration(["None", "WPA2-Personal", "WPA3-Personal", "WPA2-WPA3-Personal"])),
                    .string("KeyPassphrase", writable: true, constraint: .length(8...63), hidden: true),
                ]))
        ])

    static let host = ObjectDefinition([
        .string("Alias"),
        .string("PhysAddress"),
        .string("IPAddress"),
        .string("AddressSource", "DHCP"),
        .int("LeaseTimeRemaining", 86_400),
        .string("Layer1Interface"),
        .string("HostName"),
        .boolean("Active", true),
    ])

    static let ip = ObjectDefinition(
        [.boolean("IPv4Capable", true), .boolean("IPv4Enable", true, writable: true), .unsignedInt("InterfaceNumberOfEntries")],
        children: [
            .table(
                "Interface", writable: true, count: "InterfaceNumberOfEntries", maxEntries: 8,
                ObjectDefinition(
                    [
                        .boolean("Enable", false, writable: true),
                        .string("Status", "Down"),
                        .string("Alias", writable: true, constraint: .maxLength(64)),
                        .string("Name"),
                        .string("LowerLayers", writable: true, constraint: .maxLength(1024)),
                        .string("Type", "Normal"),
                        .boolean("IPv4Enable", true, writable: true),
                        .unsignedInt("IPv4AddressNumberOfEntries"),
                    ],
                    children: [
                        .table(
                            "IPv4Address", writable: true, count: "IPv4AddressNumberOfEntries", maxEntries: 8,
                            ObjectDefinition([
                                .boolean("Enable", false, writable: true),
                                .string("Status", "Disabled"),
                                .string("Alias", writable: true, constraint: .maxLength(64)),
                                .string("IPAddress", writable: true, constraint: .maxLength(15)),
                                .string("SubnetMask", writable: true, constraint: .maxLength(15)),
                                .string("AddressingType", "Static", constraint: .enumeration(["DHCP", "IKEv2", "AutoIP", "IPCP", "Static"])),
                            ]))
                    ]))
        ])

    /// `Device.USPAgent.` (CWMP view since TR-181 2.15): what an ACS writes to on-board the device
    /// onto a USP Controller. A dual-stack device (`SimulatedCPE.Configuration.dualStack`) starts
    /// its USP agent from these objects; others store them only.
    static let uspAgent = ObjectDefinition(
        [
            .string("EndpointID"),
            .string("SoftwareVersion"),
            .unsignedInt("UpTime", deniesActiveNotification: true),
            .string("SupportedProtocols", "MQTT,WebSocket,STOMP"),
            .string("AddCertificate", writable: true, hidden: true),
            .unsignedInt("MTPNumberOfEntries"),
            .unsignedInt("ControllerNumberOfEntries"),
        ],
        children: [
            .table(
                "MTP", writable: true, count: "MTPNumberOfEntries", maxEntries: 8,
                ObjectDefinition(
                    [
                        .string("Alias", writable: true, constraint: .maxLength(64)),
                        .boolean("Enable", false, writable: true),
                        .string("Status", "Down"),
                        .string("Protocol", "MQTT", writable: true, constraint: .enumeration(["WebSocket", "STOMP", "MQTT", "UDS"])),
                    ],
                    children: [
                        .object(
                            "MQTT",
                            ObjectDefinition([
                                .string("Reference", writable: true, constraint: .maxLength(256)),
                                .string("ResponseTopicConfigured", writable: true, constraint: .maxLength(65535)),
                                .string("ResponseTopicDiscovered"),
                                .unsignedInt("PublishQoS", 0, writable: true, constraint: .range(0...2)),
                            ])),
                        .object(
                            "WebSocket",
                            ObjectDefinition([
                                .unsignedInt("Port", 443, writable: true, constraint: .range(1...65535)),
                                .string("Path", writable: true, constraint: .maxLength(256)),
                                .boolean("EnableEncryption", true, writable: true),
                                .unsignedInt("KeepAliveInterval", 30, writable: true),
                            ])),
                        .object(
                            "STOMP",
                            ObjectDefinition([
                                .string("Reference", writable: true, constraint: .maxLength(256)),
                                .string("Destination", writable: true, constraint: .maxLength(256)),
                            ])),
                    ])),
            .table(
                "Controller", writable: true, count: "ControllerNumberOfEntries", maxEntries: 8,
                ObjectDefinition(
                    [
                        .string("Alias", writable: true, constraint: .maxLength(64)),
                        .string("EndpointID", writable: true, constraint: .maxLength(64)),
                        .boolean("Enable", false, writable: true),
                        .string("AssignedRole", writable: true, constraint: .maxLength(1024)),
                        .unsignedInt("PeriodicNotifInterval", 86_400, writable: true, constraint: .range(1...4_294_967_295)),
                        .boolean("SendOnBoardRequest", false, writable: true),
                        .unsignedInt("MTPNumberOfEntries"),
                    ],
                    children: [
                        .table(
                            "MTP", writable: true, count: "MTPNumberOfEntries", maxEntries: 8,
                            ObjectDefinition(
                                [
                                    .string("Alias", writable: true, constraint: .maxLength(64)),
                                    .boolean("Enable", false, writable: true),
                                    .string("Protocol", "MQTT", writable: true, constraint: .enumeration(["WebSocket", "STOMP", "MQTT", "UDS"])),
                                ],
                                children: [
                                    .object(
                                        "MQTT",
                                        ObjectDefinition([
                                            .string("Reference", writable: true, constraint: .maxLength(256)),
                                            .string("Topic", writable: true, constraint: .maxLength(65535)),
                                        ])),
                                    .object(
                                        "WebSocket",
                                        ObjectDefinition([
                                            .string("Host", writable: true, constraint: .maxLength(256)),
                                            .unsignedInt("Port", 443, writable: true, constraint: .range(1...65535)),
                                            .string("Path", writable: true, constraint: .maxLength(256)),
                                            .boolean("EnableEncryption", true, writable: true),
                                        ])),
                                    .object(
                                        "STOMP",
                                        ObjectDefinition([
                                            .string("Reference", writable: true, constraint: .maxLength(256)),
                                            .string("Destination", writable: true, constraint: .maxLength(256)),
                                        ])),
                                ]))
                    ])),
        ])

    /// `Device.MQTT.Client.{i}.`, shared by both protocols.
    static let mqttClient = ObjectDefinition([
        .string("Alias", writable: true, constraint: .maxLength(64)),
        .string("Name"),
        .boolean("Enable", false, writable: true),
        .string("Status", "Disabled"),
        .string("ClientID", writable: true, constraint: .maxLength(65535)),
        .string("Username", writable: true, constraint: .maxLength(256)),
        .string("Password", writable: true, constraint: .maxLength(256), hidden: true),
        .string("TransportProtocol", "TCP/IP", writable: true, constraint: .enumeration(["TCP/IP", "TLS", "WebSocket", "WebSocketTLS"])),
        .string("ProtocolVersion", "5.0", writable: true, constraint: .enumeration(["3.1", "3.1.1", "5.0"])),
        .boolean("CleanSession", true, writable: true),
        .boolean("CleanStart", true, writable: true),
        .string("BrokerAddress", writable: true, constraint: .maxLength(256)),
        .unsignedInt("BrokerPort", 1883, writable: true, constraint: .range(1...65535)),
        .unsignedInt("KeepAliveTime", 60, writable: true, constraint: .range(0...65535)),
        .unsignedInt("ConnectRetryTime", 5, writable: true, constraint: .range(1...65535)),
    ])

    /// `Device.STOMP.Connection.{i}.` (CWMP view since TR-181 2.15), what a USP STOMP MTP refers to.
    static let stompConnection = ObjectDefinition([
        .string("Alias", writable: true, constraint: .maxLength(64)),
        .boolean("Enable", false, writable: true),
        .string("Status", "Disabled"),
        .string("Host", writable: true, constraint: .maxLength(256)),
        .unsignedInt("Port", 61613, writable: true, constraint: .range(1...65535)),
        .string("Username", writable: true, constraint: .maxLength(256)),
        .string("Password", writable: true, constraint: .maxLength(256), hidden: true),
        .string("VirtualHost", writable: true, constraint: .maxLength(256)),
        .boolean("EnableEncryption", false, writable: true),
        .boolean("EnableHeartbeats", false, writable: true),
    ])

    static func make(_ profile: DeviceProfile) -> DataModel {
        var model = DataModel(rootName: "Device", definition: definition)
        var seed = DeviceSeed(profile.serialNumber)
        let d = "Device."
        let info = d + "DeviceInfo."
        model.set(info + "Manufacturer", .string(profile.manufacturer))
        model.set(info + "ManufacturerOUI", .string(profile.oui))
        model.set(info + "ModelName", .string(profile.modelName))
        model.set(info + "Description", .string("\(profile.manufacturer) \(profile.modelName) simulated home gateway"))
        model.set(info + "ProductClass", .string(profile.productClass))
        model.set(info + "SerialNumber", .string(profile.serialNumber))
        model.set(info + "HardwareVersion", .string(profile.hardwareVersion))
        model.set(info + "SoftwareVersion", .string(profile.softwareVersion))
        let management = d + "ManagementServer."
        model.set(management + "URL", .string(profile.acsURL))
        model.set(management + "Username", .string(profile.acsUsername))
        model.set(management + "Password", .string(profile.acsPassword))
        model.set(management + "PeriodicInformEnable", .boolean(profile.periodicInformEnable))
        model.set(management + "PeriodicInformInterval", .unsignedInt(profile.periodicInformInterval))
        model.set(management + "ConnectionRequestUsername", .string(profile.connectionRequestUsername))
        model.set(management + "ConnectionRequestPassword", .string(profile.connectionRequestPassword))

        let bands = [("2.4GHz", UInt32(6), "g,n,ax"), ("5GHz", UInt32(36), "a,n,ac,ax")]
        for (index, (band, channel, standards)) in bands.enumerated() {
            model.addInstance(to: d + "WiFi.Radio.", values: [
                "Name": .string("wifi\(index)"), "OperatingFrequencyBand": .string(band), "Channel": .unsignedInt(channel),
                "OperatingStandards": .string(standards), "SupportedStandards": .string(index == 0 ? "b,g,n,ax" : "a,n,ac,ax"),
            ])
        }
        let suffix = String(profile.serialNumber.suffix(4))
        for index in 1...2 {
            let mac = seed.macAddress()
            model.addInstance(to: d + "WiFi.SSID.", values: [
                "Enable": .boolean(true), "Status": .string("Up"), "Name": .string("wl\(index - 1)"),
                "LowerLayers": .string("Device.WiFi.Radio.\(index)."), "BSSID": .string(mac), "MACAddress": .string(mac),
                "SSID": .string(index == 1 ? "Tandem-\(suffix)" : "Tandem-\(suffix)-5G"),
            ])
            model.addInstance(to: d + "WiFi.AccessPoint.", values: [
                "Enable": .boolean(true), "Status": .string("Enabled"), "SSIDReference": .string("Device.WiFi.SSID.\(index)."),
                "Security.KeyPassphrase": .string("sim-\(profile.serialNumber.lowercased())"),
                "AssociatedDeviceNumberOfEntries": .unsignedInt(index == 1 ? 2 : 1),
            ])
        }
        let hosts = [("laptop", "Device.WiFi.SSID.1."), ("phone", "Device.WiFi.SSID.1."), ("tv", "Device.WiFi.SSID.2.")]
        for (index, (name, layer)) in hosts.enumerated() {
            model.addInstance(to: d + "Hosts.Host.", values: [
                "PhysAddress": .string(seed.macAddress()), "IPAddress": .string("192.168.1.\(100 + index)"),
                "Layer1Interface": .string(layer), "HostName": .string("\(name)-\(suffix.lowercased())"),
            ])
        }
        model.addInstance(to: d + "IP.Interface.", values: [
            "Enable": .boolean(true), "Status": .string("Up"), "Name": .string("br-lan"),
        ])
        model.addInstance(to: d + "IP.Interface.1.IPv4Address.", values: [
            "Enable": .boolean(true), "Status": .string("Enabled"), "IPAddress": .string("192.168.1.1"), "SubnetMask": .string("255.255.255.0"),
        ])
        model.addInstance(to: d + "IP.Interface.", values: [
            "Enable": .boolean(true), "Status": .string("Up"), "Name": .string("wan"),
        ])
        model.addInstance(to: d + "IP.Interface.2.IPv4Address.", values: [
            "Enable": .boolean(true), "Status": .string("Enabled"), "IPAddress": .string(seed.wanAddress()),
            "SubnetMask": .string("255.192.0.0"), "AddressingType": .string("DHCP"),
        ])
        let agent = d + "USPAgent."
        model.set(agent + "EndpointID", .string("os::\(profile.oui)-\(percentEncodedInstance(profile.serialNumber))"))
        model.set(agent + "SoftwareVersion", .string(profile.softwareVersion))
        return model
    }
}

/// TR-369 R-ARC.5 instance-id encoding: `-`, `.`, `_` and ASCII letters and digits stay, every other
/// UTF-8 byte becomes `%HH`.
func percentEncodedInstance(_ text: String) -> String {
    var out = ""
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"):
            out.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
        }
    }
    return out
}
