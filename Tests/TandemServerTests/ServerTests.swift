import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Registry
import TandemCore
import TandemServer
import Testing

@Suite struct ServerTests {
    func makeServer(_ directory: String) throws -> TandemServer {
        try TandemServerTests.makeServer(dataDirectory: directory, label: "test") { $0.api.listen = ListenAddress(host: "127.0.0.1", port: 0) }
    }

    @Test func healthzReportsTheRegistry() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let server = try makeServer(directory)
        try await server.makeAPIApplication().test(.live) { client in
            let response = try await client.execute(uri: "/healthz", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
            let body = try JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [String: String]
            #expect(body?["status"] == "ok")
            #expect(body?["registry"] == "ok")
            #expect(body?["version"] == TandemServer.version)
        }
    }

    @Test func metricsExposeProcessAndRegistryFigures() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let server = try makeServer(directory)
        let device = try await server.registry.recordCWMPContact(
            try CWMPDeviceID(oui: "00D09E", productClass: "P", serialNumber: "1"), details: DeviceDetails(), at: Date())
        _ = try await server.registry.recordUSPContact(try EndpointID("os::00D09E-2"), identity: nil, details: DeviceDetails(), at: Date())
        try await server.registry.storeParameters(deviceID: device.id, [
            StoredParameter(path: "Device.A", value: .string("x"), updatedAt: Date()),
            StoredParameter(path: "Device.B", value: .string("y"), updatedAt: Date()),
        ], replacingSubtree: nil)
        _ = try await server.registry.enqueueTask(deviceID: device.id, operation: .factoryReset, expiresAt: nil, actor: "test")
        try await server.makeAPIApplication().test(.live) { client in
            let response = try await client.execute(uri: "/metrics", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            let text = String(buffer: response.body)
            let samples = Dictionary(
                text.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line -> (String, Double)? in
                    let parts = line.split(separator: " ")
                    guard parts.count == 2, let value = Double(parts[1]) else { return nil }
                    return (String(parts[0]), value)
                }, uniquingKeysWith: { a, _ in a })
            #expect(samples["tandem_registry_devices"] == 2)
            #expect(samples[#"tandem_registry_devices_active{protocol="cwmp"}"#] == 1)
            #expect(samples[#"tandem_registry_devices_active{protocol="usp"}"#] == 1)
            #expect(samples["tandem_registry_parameters"] == 2)
            #expect(samples[#"tandem_registry_tasks{state="queued"}"#] == 1)
            #expect((samples["tandem_registry_events"] ?? 0) >= 3)
            #expect((samples["process_resident_memory_bytes"] ?? 0) > 1_000_000)
            #expect((samples["process_open_fds"] ?? 0) > 0)
            #expect((samples["process_start_time_seconds"] ?? 0) > 1_700_000_000)
            #expect(text.contains("# TYPE tandem_registry_devices gauge"))
        }
    }

    @Test func unknownRoutesAre404() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        try await makeServer(directory).makeAPIApplication().test(.live) { client in
            let response = try await client.execute(uri: "/nope", method: .get)
            #expect(response.status == .notFound)
        }
    }
}
