import CWMP
import Simulator
import TandemCore
import Testing

/// The data model alone: the RPC semantics of TR-069 A.3.2 without a network.
@Suite struct DataModelTests {
    static let profile = DeviceProfile(serialNumber: "SIM000042", acsURL: "http://acs.example/acs", acsUsername: "u", acsPassword: "secret")

    @Test func tr181TreeHasTheUsualObjectsWithTypesAndWritability() throws {
        let model = Self.profile.makeDataModel()
        #expect(model.rootPath == "Device.")
        #expect(model.value("Device.DeviceInfo.SerialNumber") == .string("SIM000042"))
        #expect(model.value("Device.DeviceInfo.ManufacturerOUI") == .string("ACDE48"))
        #expect(model.value("Device.ManagementServer.PeriodicInformInterval")?.type == .unsignedInt)
        #expect(model.value("Device.ManagementServer.EnableCWMP") == .boolean(true))
        #expect(model.instances(of: "Device.WiFi.SSID.") == [1, 2])
        #expect(model.instances(of: "Device.WiFi.Radio.") == [1, 2])
        #expect(model.instances(of: "Device.Hosts.Host.") == [1, 2, 3])
        #expect(model.instances(of: "Device.IP.Interface.1.IPv4Address.") == [1])
        #expect(model.value("Device.IP.Interface.1.IPv4Address.1.IPAddress") == .string("192.168.1.1"))
        #expect(model.value("Device.WiFi.SSIDNumberOfEntries") == .unsignedInt(2))
        #expect(model.instances(of: "Device.USPAgent.Controller.") == [])
        #expect(model.instances(of: "Device.MQTT.Client.") == [])
        #expect(model.value("Device.USPAgent.EndpointID") == .string("os::ACDE48-SIM000042"))
        #expect(model.parameter("Device.DeviceInfo.SoftwareVersion")?.definition.writable == false)
        #expect(model.parameter("Device.Time.NTPServer1")?.definition.writable == true)
        #expect(model.parameterCount > 150)
    }

    @Test func hiddenValuesReadEmpty() throws {
        let model = Self.profile.makeDataModel()
        #expect(model.value("Device.ManagementServer.Password") == .string("secret"))
        let read = try model.getParameterValues(names: ["Device.ManagementServer.Password", "Device.WiFi.AccessPoint.1.Security.KeyPassphrase"])
        #expect(read.map(\.value) == [.string(""), .string("")])
    }

    @Test func getParameterNamesFollowsNextLevel() throws {
        let model = Self.profile.makeDataModel()
        let root = try model.getParameterNames(path: "", nextLevel: true)
        #expect(root == [CWMPParameterInfo(name: "Device.", writable: false)])

        let wifi = try model.getParameterNames(path: "Device.WiFi.", nextLevel: true)
        #expect(wifi.map(\.name) == [
            "Device.WiFi.RadioNumberOfEntries", "Device.WiFi.SSIDNumberOfEntries", "Device.WiFi.AccessPointNumberOfEntries",
            "Device.WiFi.Radio.", "Device.WiFi.SSID.", "Device.WiFi.AccessPoint.",
        ])
        // A writable table accepts AddObject; a read-only one does not.
        #expect(wifi.first { $0.name == "Device.WiFi.SSID." }?.writable == true)
        #expect(wifi.first { $0.name == "Device.WiFi.Radio." }?.writable == false)

        let ssids = try model.getParameterNames(path: "Device.WiFi.SSID.", nextLevel: true)
        #expect(ssids == [CWMPParameterInfo(name: "Device.WiFi.SSID.1.", writable: true), CWMPParameterInfo(name: "Device.WiFi.SSID.2.", writable: true)])

        let subtree = try model.getParameterNames(path: "Device.WiFi.SSID.1.", nextLevel: false)
        #expect(subtree.first == CWMPParameterInfo(name: "Device.WiFi.SSID.1.", writable: true))
        #expect(subtree.contains(CWMPParameterInfo(name: "Device.WiFi.SSID.1.SSID", writable: true)))
        #expect(subtree.contains(CWMPParameterInfo(name: "Device.WiFi.SSID.1.BSSID", writable: false)))

        #expect(try model.getParameterNames(path: "Device.DeviceInfo.UpTime", nextLevel: false) == [CWMPParameterInfo(name: "Device.DeviceInfo.UpTime", writable: false)])
        #expect(throws: CWMPFault.self) { try model.getParameterNames(path: "Device.DeviceInfo.UpTime", nextLevel: true) }
        let missing = #expect(throws: CWMPFault.self) { try model.getParameterNames(path: "Device.Nope.", nextLevel: true) }
        #expect(missing?.code == .invalidParameterName)
    }

    @Test func setParameterValuesIsAtomicAndReportsEachRefusedParameter() throws {
        var model = Self.profile.makeDataModel()
        let fault = #expect(throws: CWMPFault.self) {
            try model.setParameterValues([
                CWMPParameterValue(name: "Device.WiFi.SSID.1.SSID", value: .string("fine")),
                CWMPParameterValue(name: "Device.DeviceInfo.SoftwareVersion", value: .string("9.9")),
                CWMPParameterValue(name: "Device.No.Such", value: .string("x")),
                CWMPParameterValue(name: "Device.ManagementServer.PeriodicInformInterval", value: .boolean(true)),
                CWMPParameterValue(name: "Device.ManagementServer.PeriodicInformEnable", value: .string("maybe")),
                CWMPParameterValue(name: "Device.WiFi.SSID.2.SSID", value: .string(String(repeating: "x", count: 33))),
            ], parameterKey: "k1")
        }
        #expect(fault?.code == .invalidArguments)
        #expect(fault?.parameterFaults.map(\.parameterName) == [
            "Device.DeviceInfo.SoftwareVersion", "Device.No.Such", "Device.ManagementServer.PeriodicInformInterval",
            "Device.ManagementServer.PeriodicInformEnable", "Device.WiFi.SSID.2.SSID",
        ])
        #expect(fault?.parameterFaults.map(\.code) == [.notWritable, .invalidParameterName, .invalidParameterType, .invalidParameterValue, .invalidParameterValue])
        #expect(model.value("Device.WiFi.SSID.1.SSID") == .string("Tandem-0042"))
        #expect(model.value("Device.ManagementServer.ParameterKey") == .string(""))

        // A number sent as a string is converted to the parameter's type.
        let writes = try model.setParameterValues([
            CWMPParameterValue(name: "Device.ManagementServer.PeriodicInformInterval", value: .string("300")),
            CWMPParameterValue(name: "Device.WiFi.SSID.1.SSID", value: .string("Home")),
        ], parameterKey: "k2")
        #expect(writes.count == 2)
        #expect(model.value("Device.ManagementServer.PeriodicInformInterval") == .unsignedInt(300))
        #expect(model.value("Device.ManagementServer.ParameterKey") == .string("k2"))
    }

    @Test func instanceNumbersAreNeverReused() throws {
        var model = Self.profile.makeDataModel()
        #expect(try model.addObject("Device.WiFi.SSID.", parameterKey: "a") == 3)
        #expect(model.value("Device.WiFi.SSIDNumberOfEntries") == .unsignedInt(3))
        #expect(model.value("Device.WiFi.SSID.3.Alias") == .string("cpe-3"))
        try model.deleteObject("Device.WiFi.SSID.3.", parameterKey: "b")
        #expect(model.value("Device.WiFi.SSID.3.SSID") == nil)
        #expect(try model.addObject("Device.WiFi.SSID.", parameterKey: "c") == 4)
        #expect(model.instances(of: "Device.WiFi.SSID.") == [1, 2, 4])
        #expect(model.value("Device.ManagementServer.ParameterKey") == .string("c"))

        #expect(try model.addObject("Device.USPAgent.Controller.", parameterKey: "") == 1)
        #expect(try model.addObject("Device.USPAgent.Controller.1.MTP.", parameterKey: "") == 1)
        #expect(model.value("Device.USPAgent.Controller.1.MTP.1.MQTT.Topic") == .string(""))

        #expect(throws: CWMPFault.self) { try model.addObject("Device.Hosts.Host.", parameterKey: "") }
        let notTable = #expect(throws: CWMPFault.self) { try model.addObject("Device.DeviceInfo.", parameterKey: "") }
        #expect(notTable?.code == .invalidParameterName)
        let notInstance = #expect(throws: CWMPFault.self) { try model.deleteObject("Device.WiFi.SSID.", parameterKey: "") }
        #expect(notInstance?.code == .invalidParameterName)
    }

    @Test func attributesAndActiveNotificationDenial() throws {
        var model = Self.profile.makeDataModel()
        try model.setParameterAttributes([.notification("Device.WiFi.SSID.1.", 2)])
        let attributes = try model.getParameterAttributes(names: ["Device.WiFi.SSID.1.SSID", "Device.DeviceInfo.SoftwareVersion"])
        #expect(attributes.map(\.notification) == [2, 0])
        let denied = #expect(throws: CWMPFault.self) { try model.setParameterAttributes([.notification("Device.DeviceInfo.UpTime", 2)]) }
        #expect(denied?.code == .notificationRejected)
        try model.setParameterAttributes([.notification("Device.DeviceInfo.UpTime", 1)])
        #expect(try model.getParameterAttributes(names: ["Device.DeviceInfo.UpTime"]).first?.notification == 1)
    }

    @Test func tr098TreeHasTheIGDObjects() throws {
        var profile = Self.profile
        profile.variant = .tr098
        let model = profile.makeDataModel()
        #expect(model.rootPath == "InternetGatewayDevice.")
        #expect(model.value("InternetGatewayDevice.LANDevice.1.WLANConfiguration.2.SSID") == .string("Tandem-0042-5G"))
        #expect(model.value("InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.PreSharedKey.1.KeyPassphrase") == .string("sim-sim000042"))
        #expect(model.instances(of: "InternetGatewayDevice.LANDevice.1.Hosts.Host.") == [1, 2, 3])
        #expect(model.value("InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANIPConnection.1.ExternalIPAddress")?.lexical.hasPrefix("100.") == true)
        #expect(model.value("InternetGatewayDevice.Time.NTPServer1") == .string("pool.ntp.org"))
        #expect(model.forcedInformParameters.map(\.name).contains("InternetGatewayDevice.DeviceSummary"))
    }
}
