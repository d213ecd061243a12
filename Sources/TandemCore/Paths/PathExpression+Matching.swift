/// Expansion of wildcards and search expressions against a known tree of concrete paths: what a
/// USP agent does itself (TR-369 section 2.6), done by Tandem for CWMP devices, whose RPCs only take
/// concrete names and partial paths.
extension PathExpression {
    /// Why an expression could not be expanded.
    public enum ExpansionError: Error, Hashable, Sendable {
        /// A search condition needs this parameter's value and the tree does not have it.
        case unknownValue(String)
        /// The expression uses something the matcher cannot follow (references).
        case unsupported(String)
    }

    /// What to do when a search condition names a parameter the tree lacks.
    public enum MissingValuePolicy: Sendable {
        /// Throw `unknownValue`: the caller refreshes the tree and tries again.
        case unknown
        /// The condition is false for that instance (the tree is fresh; the device lacks it).
        case noMatch
    }

    /// The object path made of the leading concrete segments (`Device.WiFi.SSID.` for
    /// `Device.WiFi.SSID.*.SSID`); the path itself, as an object path, when it is concrete.
    public var concretePrefix: PathExpression {
        var prefix: [Segment] = []
        for segment in segments {
            switch segment {
            case .name, .instance: prefix.append(segment)
            case .wildcard, .search, .reference: return PathExpression(segments: prefix, kind: .object)
            }
        }
        return kind == .object ? self : PathExpression(segments: Array(prefix.dropLast()), kind: .object)
    }

    /// The concrete paths this expression selects among `paths` (full parameter names such as
    /// `Device.WiFi.SSID.1.SSID`), in tree order (instance numbers numerically).
    ///
    /// A parameter expression selects parameter names; an object expression selects the object paths
    /// (ending in `.`) under which some name in `paths` lies. `value` gives a parameter's value for
    /// search conditions; conditions compare numerically when both sides are numbers, as booleans
    /// when both are booleans (`1`/`true`), and as text otherwise; `~=` tests for a substring.
    public func expand(
        over paths: some Sequence<String>, missingValues: MissingValuePolicy = .unknown, value: (String) -> TypedValue?
    ) throws(ExpansionError) -> [String] {
        for segment in segments {
            switch segment {
            case .reference:
                throw .unsupported("\(self): reference following is not supported for CWMP devices")
            case .search(let conditions):
                for condition in conditions where condition.path.contains(where: { if case .name = $0 { false } else { true } }) {
                    throw .unsupported("\(condition): search conditions that follow references are not supported for CWMP devices")
                }
            case .name, .instance, .wildcard:
                break
            }
        }
        var selected: Set<String> = []
        for path in paths {
            let parts = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            let isObjectName = parts.last == ""
            let names = isObjectName ? Array(parts.dropLast()) : parts
            switch kind {
            case .parameter:
                guard !isObjectName, names.count == segments.count else { continue }
            case .object:
                guard names.count >= segments.count, names.count > segments.count || isObjectName else { continue }
            case .command, .event:
                throw .unsupported("\(self): commands and events do not expand over a parameter tree")
            }
            let candidate = Array(names.prefix(segments.count))
            if try matches(candidate, missingValues: missingValues, value: value) {
                selected.insert(candidate.joined(separator: ".") + (kind == .object ? "." : ""))
            }
        }
        return selected.sorted(by: Self.treeOrder)
    }

    private func matches(_ names: [String], missingValues: MissingValuePolicy, value: (String) -> TypedValue?) throws(ExpansionError) -> Bool {
        for (index, segment) in segments.enumerated() {
            let name = names[index]
            switch segment {
            case .name(let expected):
                guard name == expected else { return false }
            case .instance(let number):
                guard name == String(number) else { return false }
            case .wildcard:
                guard UInt32(name) != nil else { return false }
            case .search(let conditions):
                guard UInt32(name) != nil else { return false }
                let object = names.prefix(index + 1).joined(separator: ".") + "."
                for condition in conditions {
                    let relative = condition.path.map(\.description)
                    let parameter = object + relative.joined(separator: ".")
                    guard let actual = value(parameter) else {
                        if missingValues == .unknown { throw .unknownValue(parameter) }
                        return false
                    }
                    if !condition.holds(for: actual) { return false }
                }
            case .reference:
                return false  // refused before matching
            }
        }
        return true
    }

    /// Orders paths segment by segment, instance numbers numerically (`SSID.2.` before `SSID.10.`).
    static func treeOrder(_ a: String, _ b: String) -> Bool {
        let left = a.split(separator: ".", omittingEmptySubsequences: false)
        let right = b.split(separator: ".", omittingEmptySubsequences: false)
        for (x, y) in zip(left, right) where x != y {
            if let m = UInt64(x), let n = UInt64(y) { return m < n }
            return x < y
        }
        return left.count < right.count
    }
}

extension SearchCondition {
    /// Whether `actual` satisfies this condition (TR-369 section 2.6 search expressions).
    public func holds(for actual: TypedValue) -> Bool {
        let lhs = actual.lexical
        let rhs = value.text
        if op == .contains { return lhs.contains(rhs) }
        let order: Int
        if let x = Double(lhs), let y = Double(rhs) {
            order = x < y ? -1 : (x > y ? 1 : 0)
        } else if let x = Self.boolean(lhs), let y = Self.boolean(rhs) {
            order = x == y ? 0 : (x ? 1 : -1)
        } else {
            order = lhs < rhs ? -1 : (lhs > rhs ? 1 : 0)
        }
        switch op {
        case .equal: return order == 0
        case .notEqual: return order != 0
        case .less: return order < 0
        case .greater: return order > 0
        case .lessOrEqual: return order <= 0
        case .greaterOrEqual: return order >= 0
        case .contains: return false
        }
    }

    private static func boolean(_ text: String) -> Bool? {
        switch text {
        case "true", "1": true
        case "false", "0": false
        default: nil
        }
    }
}
