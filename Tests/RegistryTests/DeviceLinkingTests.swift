import Foundation
import Registry
import TandemCore
import Testing

@Suite struct DeviceLinkingTests {
    @Test func cwmpContactCreatesThenUpdatesOneRow() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let identity = try CWMPDeviceID(manufacturer: "Acme", oui: "00d09e", productClass: "HG8245", serialNumber: "SN1")
        let first = try await registry.store.recordCWMPContact(
            identity, details: DeviceDetails(softwareVersion: "1.0", dataModelRoot: "Device", connectionRequestURL: "http://10.0.0.1:7547/cr"), at: t0)
        let second = try await registry.store.recordCWMPContact(
            identity, details: DeviceDetails(softwareVersion: "1.1"), at: t0.addingTimeInterval(60))
        #expect(first.id == second.id)
        #expect(second.cwmpDeviceID == "00D09E-HG8245-SN1")
        #expect(second.oui == "00D09E")
        #expect(second.manufacturer == "Acme")
        #expect(second.softwareVersion == "1.1")
        #expect(second.connectionRequestURL == "http://10.0.0.1:7547/cr")  // kept: the second contact did not say
        #expect(second.protocols == [.cwmp])
        #expect(second.activeProtocol == .cwmp)
        #expect(second.lastContact == t0.addingTimeInterval(60))
        #expect(try await registry.store.countDevices(matching: DeviceFilter()) == 1)
        let events = try await registry.store.events(deviceID: first.id, limit: 10)
        #expect(events.map(\.kind) == ["registered"])
    }

    @Test func lookupByAnyIdentifier() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let identity = try CWMPDeviceID(oui: "00D09E", productClass: "HG-8245", serialNumber: "SN 1")
        let device = try await registry.store.recordCWMPContact(identity, details: DeviceDetails(), at: t0)
        for text in ["\(device.id)", "00D09E-HG%2D8245-SN%201", "os::00D09E-SN%201", "os::00d09e-SN%201", "ops::00D09E-HG-8245-SN%201"] {
            let found = try await registry.store.device(try DeviceIdentifier(parsing: text))
            #expect(found?.id == device.id, "lookup by \(text)")
        }
        #expect(try await registry.store.device(.registryID(device.id + 1)) == nil)
        #expect(try await registry.store.device(try DeviceIdentifier(parsing: "os::00D09E-SN2")) == nil)
    }

    @Test func uspAgentLinksToExistingCWMPDevice() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let identity = try CWMPDeviceID(oui: "00D09E", productClass: "HG8245", serialNumber: "SN1")
        let cwmp = try await registry.store.recordCWMPContact(identity, details: DeviceDetails(), at: t0)
        let usp = try await registry.store.recordUSPContact(
            try EndpointID("os::00D09E-SN1"), identity: nil, details: DeviceDetails(softwareVersion: "2.0"), at: t0.addingTimeInterval(5))
        #expect(usp.id == cwmp.id)
        #expect(usp.protocols == [.cwmp, .usp])
        #expect(usp.activeProtocol == .cwmp)  // switching is the migration's decision, not a side effect
        #expect(usp.uspEndpointID == "os::00D09E-SN1")
        #expect(usp.cwmpDeviceID == "00D09E-HG8245-SN1")
        #expect(try await registry.store.countDevices(matching: DeviceFilter()) == 1)
        let kinds = try await registry.store.events(deviceID: cwmp.id, limit: 10).map(\.kind)
        #expect(kinds == ["link", "registered"])
    }

    @Test func cwmpDeviceLinksToAgentSeenFirst() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let usp = try await registry.store.recordUSPContact(try EndpointID("ops::00D09E-HG8245-SN1"), identity: nil, details: DeviceDetails(), at: t0)
        #expect(usp.activeProtocol == .usp)
        let cwmp = try await registry.store.recordCWMPContact(
            try CWMPDeviceID(oui: "00D09E", productClass: "HG8245", serialNumber: "SN1"), details: DeviceDetails(), at: t0)
        #expect(cwmp.id == usp.id)
        #expect(cwmp.protocols == [.cwmp, .usp])
        #expect(cwmp.activeProtocol == .usp)
    }

    @Test func onBoardRequestIdentityLinksAgentWithAnotherScheme() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let identity = try CWMPDeviceID(oui: "00D09E", productClass: "HG8245", serialNumber: "SN1")
        let cwmp = try await registry.store.recordCWMPContact(identity, details: DeviceDetails(), at: t0)
        let agent = try await registry.store.recordUSPContact(
            try EndpointID("self::gateway-7"), identity: identity, details: DeviceDetails(), at: t0)
        #expect(agent.id == cwmp.id)
        #expect(try await registry.store.device(try DeviceIdentifier(parsing: "self::gateway-7"))?.id == cwmp.id)
    }

    @Test func osAgentFillsIdentityOfAUSPOnlyRow() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let agent = try await registry.store.recordUSPContact(try EndpointID("os::a0b1c2-XYZ%2D9"), identity: nil, details: DeviceDetails(), at: t0)
        #expect(agent.oui == "A0B1C2")
        #expect(agent.serialNumber == "XYZ-9")
        #expect(agent.cwmpDeviceID == nil)
    }

    @Test func distinctDevicesStayDistinct() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let a = try await registry.store.recordCWMPContact(try CWMPDeviceID(oui: "00D09E", productClass: "P", serialNumber: "1"), details: DeviceDetails(), at: t0)
        let b = try await registry.store.recordUSPContact(try EndpointID("os::00D09E-2"), identity: nil, details: DeviceDetails(), at: t0)
        let c = try await registry.store.recordUSPContact(try EndpointID("ops::00D09E-Q-1"), identity: nil, details: DeviceDetails(), at: t0)
        #expect(Set([a.id, b.id, c.id]).count == 3)
        #expect(try await registry.store.countDevices(matching: DeviceFilter()) == 3)
    }
}
