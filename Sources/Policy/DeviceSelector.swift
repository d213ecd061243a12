import Foundation
import TandemCore

/// Which devices a policy or a migration applies to. Every given criterion must hold; a list
/// criterion holds when any of its values matches (OUIs and product classes case-insensitively).
public struct DeviceSelector: Hashable, Sendable {
    public var manufacturers: [String] = []
    public var ouis: [String] = []
    public var productClasses: [String] = []
    public var softwareVersion: VersionRange?
    /// Tags the device must all carry.
    public var tags: [String] = []
    public var activeProtocol: ManagementProtocol?
    public var parameters: [ParameterCondition] = []
    /// The share of matching devices, by a stable hash of the device (0 < percent <= 100).
    public var percent: Double?

    public init() {}

    public func matches(_ device: DeviceFacts, salt: String = "") -> Bool {
        if !manufacturers.isEmpty, !manufacturers.contains(device.manufacturer) { return false }
        if !ouis.isEmpty, !ouis.contains(where: { $0.caseInsensitiveCompare(device.oui) == .orderedSame }) { return false }
        if !productClasses.isEmpty, !productClasses.contains(where: { $0.caseInsensitiveCompare(device.productClass) == .orderedSame }) {
            return false
        }
        if let range = softwareVersion, !range.contains(device.softwareVersion) { return false }
        if !tags.allSatisfy(device.tags.contains) { return false }
        if let activeProtocol, device.activeProtocol != activeProtocol { return false }
        if !parameters.allSatisfy({ $0.holds(for: device.parameters[$0.path]) }) { return false }
        if let percent, StableBucket.percentile(of: device.key, salt: salt) >= percent { return false }
        return true
    }
}

/// A condition on one parameter's stored value.
public struct ParameterCondition: Hashable, Sendable {
    public enum Test: Hashable, Sendable {
        case equals(String)
        case notEquals(String)
        case contains(String)
        /// Numeric when both sides are numbers, otherwise by version order.
        case lessThan(String)
        case greaterThan(String)
        case exists(Bool)
    }

    public var path: String
    public var test: Test

    public init(path: String, test: Test) {
        self.path = path
        self.test = test
    }

    /// Whether the condition holds for `value` (nil: the registry does not know the parameter).
    public func holds(for value: TypedValue?) -> Bool {
        if case .exists(let expected) = test { return (value != nil) == expected }
        guard let value else { return false }
        let text = value.lexical
        switch test {
        case .equals(let expected): return Self.same(value, expected)
        case .notEquals(let expected): return !Self.same(value, expected)
        case .contains(let part): return text.contains(part)
        case .lessThan(let bound): return Self.compare(text, bound) < 0
        case .greaterThan(let bound): return Self.compare(text, bound) > 0
        case .exists: return true
        }
    }

    /// Equality that treats `1`/`true` and `0`/`false` alike for booleans (TR-069 A.2).
    static func same(_ value: TypedValue, _ expected: String) -> Bool {
        if case .boolean(let flag) = value, let other = BooleanText.parse(expected) { return flag == other }
        return value.lexical == expected
    }

    static func compare(_ a: String, _ b: String) -> Int {
        if let x = Double(a), let y = Double(b) { return x < y ? -1 : (x > y ? 1 : 0) }
        return SoftwareVersion.compare(a, b)
    }
}

enum BooleanText {
    static func parse(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "1": true
        case "false", "0": false
        default: nil
        }
    }
}

/// Software version order: dot-, dash- or underscore-separated components, numeric ones compared
/// as numbers and others as text (`1.10.0` > `1.9.2`, `2.0-rc1` < `2.0-rc2`).
public enum SoftwareVersion {
    public static func compare(_ a: String, _ b: String) -> Int {
        let left = components(a), right = components(b)
        for index in 0..<max(left.count, right.count) {
            let x = index < left.count ? left[index] : "0"
            let y = index < right.count ? right[index] : "0"
            if let m = UInt64(x), let n = UInt64(y) {
                if m != n { return m < n ? -1 : 1 }
            } else if x != y {
                return x < y ? -1 : 1
            }
        }
        return 0
    }

    static func components(_ version: String) -> [Substring] {
        version.split(whereSeparator: { $0 == "." || $0 == "-" || $0 == "_" })
    }
}

/// A range of software versions: space-separated clauses that must all hold, each `>=V`, `>V`,
/// `<=V`, `<V`, `=V` or `!=V`; a bare `V` means `=V`, and `1.2.*` means the 1.2 series.
public struct VersionRange: Hashable, Sendable, CustomStringConvertible {
    public enum Operator: String, Hashable, Sendable { case ge = ">=", gt = ">", le = "<=", lt = "<", eq = "=", ne = "!=" }

    public struct Clause: Hashable, Sendable {
        public var op: Operator
        public var version: String
        /// `1.2.*`: the version has these leading components.
        public var isPrefix: Bool
    }

    public var clauses: [Clause]
    public let description: String

    public init(parsing text: String) throws(PolicyProblem) {
        description = text
        clauses = []
        for word in text.split(separator: " ") {
            var rest = Substring(word)
            var op = Operator.eq
            for candidate in [Operator.ge, .le, .ne, .gt, .lt, .eq] where rest.hasPrefix(candidate.rawValue) {
                op = candidate
                rest = rest.dropFirst(candidate.rawValue.count)
                break
            }
            if rest.hasPrefix("=") { rest = rest.dropFirst() }
            guard !rest.isEmpty, !rest.contains(where: { $0 == "<" || $0 == ">" || $0 == "=" || $0 == "!" }) else {
                throw PolicyProblem("bad version clause \"\(word)\": expected for example \">=1.2.0\", \"<2\" or \"1.4.*\"")
            }
            var isPrefix = false
            if rest.hasSuffix(".*") {
                guard op == .eq || op == .ne else { throw PolicyProblem("a wildcard version like \"\(rest)\" takes = or != only") }
                rest = rest.dropLast(2)
                isPrefix = true
            }
            clauses.append(Clause(op: op, version: String(rest), isPrefix: isPrefix))
        }
        if clauses.isEmpty { throw PolicyProblem("empty version range") }
    }

    public func contains(_ version: String) -> Bool {
        clauses.allSatisfy { clause in
            if clause.isPrefix {
                let prefix = SoftwareVersion.components(clause.version)
                let parts = SoftwareVersion.components(version)
                let matches = parts.count >= prefix.count && zip(prefix, parts).allSatisfy { $0 == $1 }
                return clause.op == .eq ? matches : !matches
            }
            let order = SoftwareVersion.compare(version, clause.version)
            switch clause.op {
            case .ge: return order >= 0
            case .gt: return order > 0
            case .le: return order <= 0
            case .lt: return order < 0
            case .eq: return order == 0
            case .ne: return order != 0
            }
        }
    }
}

/// A device's place in [0, 100) by FNV-1a over its identity: the same on every run and every
/// machine, so a 5 % canary is always the same 5 % (and a salt gives each migration its own draw).
public enum StableBucket {
    public static func percentile(of key: String, salt: String = "") -> Double {
        var fnv = FNV1a()
        fnv.add(salt.utf8)
        fnv.add(0x1f)
        fnv.add(key.utf8)
        var hash = fnv.value
        // Fold the high bits in: FNV's low bits alone are poorly mixed for short keys.
        hash ^= hash >> 29
        hash = hash &* 0xbf58_476d_1ce4_e5b9
        hash ^= hash >> 32
        return Double(hash % 10_000) / 100
    }
}

/// A problem with a policy value, before it has a file position.
public struct PolicyProblem: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
