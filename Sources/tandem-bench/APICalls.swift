import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOFoundationCompat

/// REST calls to the server under test, with its admin bearer token.
struct APICalls: Sendable {
    let client: HTTPClient
    let baseURL: String
    let token: String

    /// The JSON body of a call; throws on a status other than 2xx.
    func call(_ method: HTTPMethod, _ path: String, body: [String: Any]? = nil, timeout: TimeAmount = .seconds(120)) async throws -> [String: Any] {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: body)))
        }
        let response = try await client.execute(request, timeout: timeout)
        let bytes = try await response.body.collect(upTo: 64 << 20)
        guard (200..<300).contains(response.status.code) else {
            throw BenchError("\(method) \(path): HTTP \(response.status.code) \(String(buffer: bytes).prefix(300))")
        }
        if bytes.readableBytes == 0 { return [:] }
        return (try JSONSerialization.jsonObject(with: Data(buffer: bytes)) as? [String: Any]) ?? [:]
    }

    /// How many devices the registry holds (`GET /api/v1/devices` total).
    func deviceCount() async throws -> Int {
        (try await call(.GET, "/api/v1/devices?limit=1"))["total"] as? Int ?? -1
    }

    /// A `get` task for the device, waited for in the same request; the task's final state.
    func get(device: String, paths: [String], wait: Double = 60) async throws -> String {
        let encoded = device.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? device
        let task = try await call(
            .POST, "/api/v1/devices/\(encoded)/tasks", body: ["operation": ["op": "get", "paths": paths], "wait": wait],
            timeout: .seconds(Int64(wait) + 30))
        return task["state"] as? String ?? "?"
    }
}
