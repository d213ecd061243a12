import ArgumentParser
import Foundation
import NIOHTTP1

extension Tandem {
    /// `tandem status`: the server's health over the API, with the link of every USP MTP.
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Server status: registry, CWMP sessions, USP MTP links.")
        @OptionGroup var remote: RemoteOptions

        func run() async throws {
            let object = try await remote.client().call(.GET, "/api/v1/status")
            if remote.json { printJSON(object); return }
            let status = object as? [String: Any] ?? [:]
            Swift.print("version        \(status["version"] ?? "?")")
            Swift.print("registry       \(status["registry"] ?? "?") (\(status["devices"] ?? 0) devices)")
            Swift.print("cwmp sessions  \(status["cwmpSessions"] ?? 0)")
            let links = status["mtps"] as? [[String: Any]] ?? []
            guard !links.isEmpty else {
                Swift.print("usp mtps       none configured")
                return
            }
            let rows = links.map { link in
                [
                    "\(link["name"] ?? "")", (link["up"] as? Bool) == true ? "up" : "down", "\(link["since"] ?? "")",
                    "\(link["failures"] ?? 0)", "\(link["reason"] ?? "")",
                ]
            }
            Swift.print(TextFormat.table(header: ["MTP", "LINK", "SINCE", "FAILURES", "REASON"], rows: rows), terminator: "")
        }
    }
}
