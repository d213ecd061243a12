import ArgumentParser
import CWMP
import Foundation
import TandemCore
import USP

/// Reads FILE, or standard input for `-`.
func readInput(_ path: String) throws -> [UInt8] {
    if path == "-" { return Array(FileHandle.standardInput.readDataToEndOfFile()) }
    guard let data = FileManager.default.contents(atPath: path) else {
        printError("tandem: cannot read \(path)")
        throw ExitCode.failure
    }
    return Array(data)
}

extension Tandem {
    struct CWMPCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "cwmp", abstract: "CWMP tools for operators.", subcommands: [DecodeCWMP.self])
    }

    struct DecodeCWMP: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "decode",
            abstract: "Print a CWMP SOAP message as JSON (method, cwmp:ID, DeviceId, events, parameters with types, fault).")

        @Argument(help: ArgumentHelp("The SOAP envelope, or - for standard input.", valueName: "file"))
        var file: String

        func run() throws {
            let bytes = try readInput(file)
            let decoder = CWMPDecoder()
            var envelope: CWMPEnvelope
            do {
                envelope = try decoder.decode(bytes, from: .cpe)
                // ACS requests decode as unknown methods from a CPE's point of view.
                if case .unknownMethod = envelope.body, let acs = try? decoder.decode(bytes, from: .acs) { envelope = acs }
            } catch {
                let place = error.line.map { "line \($0): " } ?? ""
                printError("tandem: \(file): \(place)\(error.message)")
                throw ExitCode.failure
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(CWMPMessageSummary(envelope)), as: UTF8.self))
        }
    }

    struct USPCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "usp", abstract: "USP tools for operators.", subcommands: [DecodeUSP.self])
    }

    struct DecodeUSP: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "decode", abstract: "Print a USP Record (and its Msg) as JSON.")

        @Argument(help: ArgumentHelp("The serialized Record, or - for standard input.", valueName: "file"))
        var file: String

        func run() throws {
            let bytes = try readInput(file)
            do {
                let record = try USPRecord(serializedBytes: bytes)
                print(try record.debugJSON())
            } catch let error as USPDecodingError {
                printError("tandem: \(file): not a valid USP Record (\(error.code.rawValue) \(error.code.name)): \(error)")
                throw ExitCode.failure
            }
        }
    }
}

/// The JSON shape of `tandem cwmp decode`.
struct CWMPMessageSummary: Encodable {
    struct Event: Encodable {
        var code: String
        var commandKey: String
    }

    struct Parameter: Encodable {
        var name: String
        var type: String
        var value: String
    }

    struct FaultSummary: Encodable {
        var code: Int
        var message: String
        var category: String
        var parameterFaults: [[String: String]]
    }

    var method: String
    var cwmpID: String?
    var namespace: String
    var deviceId: String?
    var manufacturer: String?
    var events: [Event]?
    var parameters: [Parameter]?
    var names: [String]?
    var fault: FaultSummary?
    var warnings: [String]?

    init(_ envelope: CWMPEnvelope) {
        method = envelope.body.methodName
        cwmpID = envelope.cwmpID
        namespace = envelope.namespace.rawValue
        if !envelope.warnings.isEmpty { warnings = envelope.warnings.map { "\($0)" } }
        func values(_ list: [CWMPParameterValue]) -> [Parameter] {
            list.map { Parameter(name: $0.name, type: $0.value.type.xsdName, value: $0.value.lexical) }
        }
        switch envelope.body {
        case .cpeRequest(.inform(let inform)):
            deviceId = inform.deviceID.canonical
            manufacturer = inform.deviceID.manufacturer
            events = inform.events.map { Event(code: $0.code.rawValue, commandKey: $0.commandKey) }
            parameters = values(inform.parameters)
        case .cpeResponse(.getParameterValues(let list)):
            parameters = values(list)
        case .acsRequest(.setParameterValues(let list, _)):
            parameters = values(list)
        case .acsRequest(.getParameterValues(let list)):
            names = list
        case .cpeResponse(.getParameterNames(let list)):
            names = list.map { $0.name + ($0.writable ? " (writable)" : "") }
        case .fault(let fault):
            self.fault = FaultSummary(
                code: fault.code.rawValue, message: fault.message, category: fault.fault.category.rawValue,
                parameterFaults: fault.parameterFaults.map { ["name": $0.parameterName, "code": String($0.code.rawValue), "message": $0.message] })
        default:
            break
        }
    }
}
