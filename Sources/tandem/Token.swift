import ArgumentParser
import Foundation
import HTTPAuthentication
import Registry
import TandemServer

extension Tandem {
    struct Token: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create, list and revoke REST API tokens (local: works on the registry file).",
            subcommands: [Create.self, List.self, Revoke.self])
    }
}

extension Tandem.Token {
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a token; prints its secret once, as the last word.")

        @OptionGroup var options: ConfigurationOptions

        @Option(help: "A name for the token (who or what uses it); shown in the audit log.")
        var name: String

        @Option(help: "admin, operator or read-only.")
        var role: String

        func run() async throws {
            guard let apiRole = APIRole(rawValue: role) else {
                throw ValidationError("--role must be admin, operator or read-only")
            }
            let store = try openRegistry(options)
            let secret = BearerToken.makeSecret()
            let token: APIToken
            do {
                token = try await store.createToken(name: name, role: apiRole, secretHash: BearerToken.hash(secret), actor: cliActor())
            } catch let error as RegistryError {
                printError("tandem: \(error)")
                throw TandemExit.usage
            }
            print("Created token \(token.name) with role \(token.role.rawValue). It is shown once; keep it safe:")
            print(BearerToken(id: token.id, secret: secret).text)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (never their secrets).")

        @OptionGroup var options: ConfigurationOptions

        func run() async throws {
            let tokens = try await openRegistry(options).tokens()
            let rows = tokens.map { token in
                [String(token.id), token.name, token.role.rawValue, TextFormat.localTime(token.createdAt),
                 token.revokedAt.map { "revoked " + TextFormat.localTime($0) } ?? "active"]
            }
            print(TextFormat.table(header: ["ID", "NAME", "ROLE", "CREATED", "STATE"], rows: rows), terminator: "")
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token by name.")

        @OptionGroup var options: ConfigurationOptions

        @Argument(help: "The token's name.")
        var name: String

        func run() async throws {
            guard try await openRegistry(options).revokeToken(name: name, actor: cliActor()) else {
                printError("tandem: no active token named \(name)")
                throw ExitCode.failure
            }
            print("Revoked token \(name).")
        }
    }
}

/// Who runs a local command, for the audit log: `cli:<login name>`. Local commands work on the
/// registry file directly, so its file permissions decide who may; the log says who did.
func cliActor() -> String {
    if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name { return "cli:" + String(cString: name) }
    return "cli:uid-\(geteuid())"
}

/// Opens the registry file the configuration names, or exits with a clear message.
func openRegistry(_ options: ConfigurationOptions) throws -> SQLiteRegistryStore {
    let configuration = try options.load()
    do {
        return try SQLiteRegistryStore(dataDirectory: configuration.dataDirectory)
    } catch {
        printError("tandem: cannot open the registry under \(configuration.dataDirectory): \(error)")
        throw ExitCode.failure
    }
}
