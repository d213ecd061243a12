import AsyncHTTPClient
import CWMP
import Foundation
import HTTPAuthentication
import NIOCore
import NIOHTTP1
import TandemCore

/// Fetches Download files and sends Upload files over HTTP(S) (TR-069 3.4.3: the file server may
/// challenge with Digest or Basic), mapping failures to the TransferComplete fault codes.
struct FileTransferClient {
    let client: HTTPClient
    let timeout: Duration
    let userAgent: String
    /// Largest file accepted; a bigger one is fault 9017.
    var maximumBytes = 64 * 1024 * 1024

    enum Download {
        case file([UInt8])
        case failed(CWMPTransferFault)
    }

    private enum Exchange {
        case answered(status: Int, body: [UInt8])
        case failed(CWMPTransferFault)
    }

    /// GETs `url`; the file or the fault.
    func download(url: String, username: String, password: String) async -> Download {
        switch await exchange(method: .GET, url: url, username: username, password: password, body: nil, contentType: nil) {
        case .answered(let status, let body):
            switch status {
            case 200..<300: return .file(body)
            case 401, 403: return .failed(CWMPTransferFault(code: .fileTransferAuthenticationFailure, message: "file server answered HTTP \(status)"))
            default: return .failed(CWMPTransferFault(code: .fileAccessFailure, message: "file server answered HTTP \(status)"))
            }
        case .failed(let fault):
            return .failed(fault)
        }
    }

    /// PUTs `body` to `url`; nil on success, else the fault.
    func upload(url: String, username: String, password: String, body: [UInt8], contentType: String) async -> CWMPTransferFault? {
        switch await exchange(method: .PUT, url: url, username: username, password: password, body: body, contentType: contentType) {
        case .answered(let status, _):
            switch status {
            case 200..<300: return nil
            case 401, 403: return CWMPTransferFault(code: .fileTransferAuthenticationFailure, message: "file server answered HTTP \(status)")
            default: return CWMPTransferFault(code: .uploadFailure, message: "file server answered HTTP \(status)")
            }
        case .failed(let fault):
            return fault
        }
    }

    /// One request, answering a single 401 challenge when credentials are given.
    private func exchange(
        method: HTTPMethod, url: String, username: String, password: String, body: [UInt8]?, contentType: String?
    ) async -> Exchange {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), parsed.host != nil else {
            return .failed(CWMPTransferFault(code: .fileAccessFailure, message: "invalid URL \"\(url)\""))
        }
        guard scheme == "http" || scheme == "https" else {
            return .failed(CWMPTransferFault(code: .unsupportedTransferProtocol, message: "\(scheme) is not supported; use http or https"))
        }
        var target = parsed.path.isEmpty ? "/" : parsed.path
        if let query = parsed.query { target += "?" + query }
        var authorization: String?
        var digest = DigestClient(username: username, password: password)
        for attempt in 0..<2 {
            var request = HTTPClientRequest(url: url)
            request.method = method
            request.headers.add(name: "User-Agent", value: userAgent)
            if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
            if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
            if let authorization { request.headers.add(name: "Authorization", value: authorization) }
            let status: Int
            let challenges: [String]
            let bytes: [UInt8]
            do {
                let response = try await client.execute(request, timeout: TimeAmount(timeout))
                status = Int(response.status.code)
                challenges = response.headers["WWW-Authenticate"]
                var buffer = try await response.body.collect(upTo: maximumBytes)
                bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
            } catch let error as NIOTooManyBytesError {
                _ = error
                return .failed(CWMPTransferFault(code: .downloadIncomplete, message: "file larger than \(maximumBytes) bytes"))
            } catch {
                return .failed(CWMPTransferFault(code: .fileServerUnreachable, message: "\(ACSConnection.describe(error))"))
            }
            guard status == 401, attempt == 0, !username.isEmpty else { return .answered(status: status, body: bytes) }
            if let answer = digest.authorization(for: challenges, method: method.rawValue, uri: target) {
                authorization = answer
            } else if challenges.contains(where: { $0.lowercased().hasPrefix("basic") }) {
                authorization = BasicCredentials(username: username, password: password).headerValue
            } else {
                return .answered(status: status, body: bytes)
            }
        }
        return .failed(CWMPTransferFault(code: .fileTransferAuthenticationFailure, message: "file server refused the credentials"))
    }
}
