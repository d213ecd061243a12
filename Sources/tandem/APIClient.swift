import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// Where the admin commands find the server: `--server`/`--token`, or TANDEM_SERVER/TANDEM_TOKEN.
struct RemoteOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The Tandem API, e.g. http://127.0.0.1:8080 (or TANDEM_SERVER).", valueName: "url"))
    var server: String?

    @Option(help: ArgumentHelp("An API token from `tandem token create` (or TANDEM_TOKEN).", valueName: "token"))
    var token: String?

    @Option(
        name: .customLong("ca-file"),
        help: ArgumentHelp("PEM file of the CA that signed an HTTPS API's certificate, instead of the system's (or TANDEM_CA_FILE).", valueName: "file"))
    var caFile: String?

    @Flag(help: "Print JSON for scripts instead of tables.")
    var json = false

    var resolvedServer: String? { server ?? ProcessInfo.processInfo.environment["TANDEM_SERVER"] }
    var resolvedToken: String? { token ?? ProcessInfo.processInfo.environment["TANDEM_TOKEN"] }
    var resolvedCAFile: String? { caFile ?? ProcessInfo.processInfo.environment["TANDEM_CA_FILE"] }

    func client() throws -> APIClient {
        guard let server = resolvedServer, let url = URL(string: server), url.scheme == "http" || url.scheme == "https" else {
            printError("tandem: give the API with --server http://HOST:PORT or TANDEM_SERVER")
            throw TandemExit.usage
        }
        guard let token = resolvedToken, !token.isEmpty else {
            printError("tandem: give a token with --token or TANDEM_TOKEN (tandem token create ...)")
            throw TandemExit.usage
        }
        var trustRoots: NIOSSLTrustRoots?
        if let caFile = resolvedCAFile {
            guard FileManager.default.isReadableFile(atPath: caFile) else {
                printError("tandem: cannot read the CA file \(caFile)")
                throw TandemExit.usage
            }
            trustRoots = .file(caFile)
        }
        return APIClient(base: server.hasSuffix("/") ? String(server.dropLast()) : server, token: token, trustRoots: trustRoots)
    }
}

/// A small JSON client of `/api/v1`.
struct APIClient: Sendable {
    let base: String
    let token: String
    /// For an HTTPS API signed by a private CA (`--ca-file`); nil trusts the system's CAs.
    var trustRoots: NIOSSLTrustRoots? = nil

    struct Failure: Error {
        let status: Int
        let message: String
    }

    /// Sends a request; returns the decoded JSON object. Maps failures to the CLI's exit codes.
    func call(_ method: HTTPMethod, _ path: String, body: [String: Any]? = nil, timeout: TimeAmount = .seconds(30)) async throws -> Any {
        let data = try await callRaw(method, path, body: try body.map { try JSONSerialization.data(withJSONObject: $0) }, timeout: timeout)
        return data.isEmpty ? [:] : ((try? JSONSerialization.jsonObject(with: data)) ?? [:])
    }

    /// Sends a request with a JSON body; returns the response body.
    func callRaw(_ method: HTTPMethod, _ path: String, body: Data?, timeout: TimeAmount = .seconds(30)) async throws -> Data {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        // A command line fails fast when the server is not there, rather than retrying connections
        // until the request's deadline as a long-running client would.
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(5)
        if let trustRoots {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = trustRoots
            configuration.tlsConfiguration = tls
        }
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await client.execute(request, timeout: timeout)
            bytes = try await response.body.collect(upTo: 64 * 1024 * 1024)
            try? await client.shutdown()
        } catch {
            try? await client.shutdown()
            printError("tandem: cannot reach \(base): \(error)")
            throw TandemExit.unreachable
        }
        let data = Data(bytes.readableBytesView)
        let object = data.isEmpty ? [:] : ((try? JSONSerialization.jsonObject(with: data)) ?? [:])
        guard (200..<300).contains(Int(response.status.code)) else {
            let message = ((object as? [String: Any])?["error"] as? [String: Any])?["message"] as? String ?? "HTTP \(response.status.code)"
            printError("tandem: \(message)")
            switch response.status.code {
            case 401, 403, 400, 404, 409: throw TandemExit.usage
            default: throw ExitCode.failure
            }
        }
        return data
    }

    static func encode(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? value
    }
}

/// Prints a JSON value for scripts.
func printJSON(_ value: Any) {
    if let data = try? JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) {
        print(String(decoding: data, as: UTF8.self))
    }
}

/// A spinner on standard error while waiting, when standard error is a terminal.
struct Spinner {
    static func tick(_ count: Int, _ text: String) {
        guard isatty(2) != 0 else { return }
        let frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]
        FileHandle.standardError.write(Data("\r\(frames[count % frames.count]) \(text)".utf8))
    }

    static func clear() {
        guard isatty(2) != 0 else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
