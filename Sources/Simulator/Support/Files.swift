import CWMP
import Foundation
import TandemCore

/// What a simulated device makes of downloaded files and what it uploads.
enum SimulatedFiles {
    /// The SoftwareVersion a firmware image installs: a `version=`/`Version:` declaration in its
    /// first 64 KiB (`SoftwareVersion`, `FirmwareVersion` and `fw_version` spellings too), else a
    /// dotted version in the file name (`gateway-2.4.1.bin` gives `2.4.1`), else a digest of the
    /// content. Nil for an empty file, which no device would flash.
    static func firmwareVersion(of bytes: [UInt8], fileName: String) -> String? {
        guard !bytes.isEmpty else { return nil }
        let head = String(decoding: bytes.prefix(64 * 1024), as: UTF8.self)
        let declaration = #/(?i)(?:software|firmware|fw)?[-_ ]?version[ \t]*[:=][ \t]*"?([A-Za-z0-9][A-Za-z0-9._+-]{0,63})/#
        if let match = head.firstMatch(of: declaration) { return String(match.1) }
        let dotted = #/(\d+(?:\.\d+)+(?:[-_][A-Za-z0-9]+)?)/#
        let base = fileName.split(separator: "/").last.map(String.init) ?? fileName
        let stem = base.replacing(#/\.(bin|img|fw|trx|tar|gz|zip|itb|ubi)$/#, with: "")
        if let match = stem.firstMatch(of: dotted) { return String(match.1) }
        var hash = FNV1a()
        hash.add(bytes)
        return "fw-" + String(hash.value, radix: 16).leftPadded(to: 16).prefix(8)
    }

    /// A vendor configuration file: one `Name=Value` line per writable parameter, hidden values
    /// included (a backup restores them). Download of the same file restores the settings.
    static func configurationFile(of model: DataModel, deviceID: CWMPDeviceID) -> [UInt8] {
        var text = "# tandem-sim configuration backup\n# device \(deviceID.canonical)\n"
        for (path, parameter) in model.parameters() where parameter.definition.writable {
            text += "\(path)=\(escape(parameter.value.lexical))\n"
        }
        return Array(text.utf8)
    }

    /// Applies a configuration file: every `Name=Value` line naming a writable parameter whose value
    /// parses as its type. Nil when nothing applied (the file is not a configuration of this device).
    static func applyConfiguration(_ bytes: [UInt8], to model: inout DataModel) -> Int? {
        var applied = 0
        for line in String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.hasPrefix("#"), let equals = trimmed.firstIndex(of: "=") else { continue }
            let name = String(trimmed[..<equals])
            let text = unescape(String(trimmed[trimmed.index(after: equals)...]))
            guard let parameter = model.parameter(name), parameter.definition.writable,
                let value = try? TypedValue(parsing: text, as: parameter.definition.type),
                parameter.definition.constraint?.violation(by: value) == nil
            else { continue }
            model.set(name, value)
            applied += 1
        }
        return applied > 0 ? applied : nil
    }

    /// A vendor log file: the device's recent sessions, syslog style.
    static func logFile(sessions: [SessionRecord], deviceID: CWMPDeviceID) -> [UInt8] {
        var text = ""
        for session in sessions {
            let time = DateTimeValue(session.startedAt).lexical
            let events = session.events.map(\.code.rawValue).joined(separator: ", ")
            let methods = session.exchanges.map(\.method).joined(separator: ", ")
            text += "\(time) \(deviceID.canonical) cwmp[1]: session \(session.number) events [\(events)] rpcs [\(methods)] \(session.outcome)\n"
        }
        if text.isEmpty { text = "\(DateTimeValue(Date()).lexical) \(deviceID.canonical) cwmp[1]: no sessions yet\n" }
        return Array(text.utf8)
    }

    private static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }

    private static func unescape(_ text: String) -> String {
        var out = ""
        var escaping = false
        for character in text {
            if escaping {
                out.append(character == "n" ? "\n" : character)
                escaping = false
            } else if character == "\\" {
                escaping = true
            } else {
                out.append(character)
            }
        }
        return out
    }
}
