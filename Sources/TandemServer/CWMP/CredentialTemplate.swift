import Foundation
import TandemCore

/// A credential template such as `{oui}-{serialNumber}` or `secret-{serialNumber}`: rendered for a
/// device, or matched against a username to recover the fields it was made from.
struct CredentialTemplate: Sendable {
    enum Piece: Sendable, Equatable {
        case literal(String)
        case field(String)
    }

    let pieces: [Piece]

    init(_ text: String) {
        var pieces: [Piece] = []
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            if open > rest.startIndex { pieces.append(.literal(String(rest[..<open]))) }
            pieces.append(.field(String(rest[rest.index(after: open)..<close])))
            rest = rest[rest.index(after: close)...]
        }
        if !rest.isEmpty { pieces.append(.literal(String(rest))) }
        self.pieces = pieces
    }

    func render(_ device: CWMPDeviceID) -> String {
        pieces.map { piece in
            switch piece {
            case .literal(let text): text
            case .field("oui"): device.oui
            case .field("productClass"): device.productClass
            case .field("serialNumber"): device.serialNumber
            case .field("deviceId"): device.canonical
            case .field(let other): "{\(other)}"
            }
        }.joined()
    }

    /// The fields a username made from this template carries, or nil when it does not fit.
    /// Fields are matched shortest-first, except `deviceId`, which takes the rest.
    func match(_ username: String) -> [String: String]? {
        var fields: [String: String] = [:]
        var rest = Substring(username)
        for (index, piece) in pieces.enumerated() {
            switch piece {
            case .literal(let text):
                guard rest.hasPrefix(text) else { return nil }
                rest = rest.dropFirst(text.count)
            case .field(let name):
                // The next literal (if any) ends this field.
                if index + 1 < pieces.count, case .literal(let next) = pieces[index + 1] {
                    guard let range = rest.range(of: next) else { return nil }
                    fields[name] = String(rest[..<range.lowerBound])
                    rest = rest[range.lowerBound...]
                } else {
                    fields[name] = String(rest)
                    rest = ""
                }
            }
        }
        return rest.isEmpty ? fields : nil
    }

    /// The device identity a username made from this template names, when it names one.
    func identity(from username: String) -> CWMPDeviceID? {
        guard let fields = match(username) else { return nil }
        if let id = fields["deviceId"] { return try? CWMPDeviceID(parsing: id) }
        guard let oui = fields["oui"], let serial = fields["serialNumber"] else { return nil }
        return try? CWMPDeviceID(oui: oui, productClass: fields["productClass"] ?? "", serialNumber: serial)
    }
}
