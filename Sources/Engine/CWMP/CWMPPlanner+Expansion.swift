import TandemCore

/// Wildcards and search expressions for CWMP devices (issue 5 item 2): CWMP RPCs take concrete
/// names and partial paths only, so Tandem expands the expressions itself against the device's
/// tree, the way a USP agent would (TR-369 section 2.6).
extension CWMPPlanner {
    /// The outcome of expanding an operation's paths.
    public enum Expansion: Hashable, Sendable {
        /// Every path is concrete now.
        case concrete(TandemCore.Operation)
        /// The expressions match nothing: the neutral result is empty, as a USP search matching
        /// nothing is (R-GET.0 / R-SET.2a).
        case nothing
        /// The tree lacks names or values the expressions need: refresh these object paths first
        /// (GetParameterValues on a partial path gives names and values in one round trip).
        case refresh([String])
    }

    /// Whether the operation has paths that need expanding before it can become CWMP RPCs.
    public static func needsExpansion(_ operation: TandemCore.Operation) -> Bool {
        switch operation {
        case .get, .set, .add, .delete, .getAttributes, .setAttributes: operation.targetPaths.contains { !$0.isConcrete }
        default: false
        }
    }

    /// The object paths to read so that the expressions can be expanded: each expression's longest
    /// concrete prefix, without those already under another.
    public static func refreshPrefixes(_ operation: TandemCore.Operation) -> [String] {
        let prefixes = Set(operation.targetPaths.filter { !$0.isConcrete }.map(\.concretePrefix.description))
        return prefixes.filter { prefix in !prefixes.contains { $0 != prefix && prefix.hasPrefix($0) } }.sorted()
    }

    /// Expands the operation's wildcards and searches over a tree of parameter names and their known
    /// values. With `fresh` false (a tree from the registry), a tree with nothing under a prefix, or a
    /// search on a value the tree lacks, asks for a refresh; with `fresh` true (the device's own
    /// answer), a lacking value simply does not match. Concrete paths pass through unchanged.
    public static func expand(
        _ operation: TandemCore.Operation, names: Set<String>, values: [String: TypedValue], fresh: Bool
    ) throws(Fault) -> Expansion {
        guard needsExpansion(operation) else { return .concrete(operation) }
        let prefixes = refreshPrefixes(operation)
        if !fresh, prefixes.contains(where: { prefix in !names.contains { $0.hasPrefix(prefix) } }) {
            return .refresh(prefixes)
        }
        func expand(_ path: PathExpression) throws(Fault) -> [PathExpression]? {
            guard !path.isConcrete else { return [path] }
            let matched: [String]
            do throws(PathExpression.ExpansionError) {
                matched = try path.expand(over: names, missingValues: fresh ? .noMatch : .unknown) { values[$0] }
            } catch {
                switch error {
                case .unknownValue: return nil
                case .unsupported(let message): throw Fault(category: .notSupported, message: message)
                }
            }
            var out: [PathExpression] = []
            for text in matched {
                do { out.append(try PathExpression(text)) } catch {
                    throw Fault(category: .invalidPath, message: "the device reported an unusable path \(text): \(error)")
                }
            }
            return out
        }
        var expanded: TandemCore.Operation
        switch operation {
        case .get(let paths), .getAttributes(let paths):
            var concrete: [PathExpression] = []
            for path in paths {
                guard let matched = try expand(path) else { return .refresh(prefixes) }
                concrete += matched
            }
            guard !concrete.isEmpty else { return .nothing }
            if case .get = operation { expanded = .get(paths: concrete) } else { expanded = .getAttributes(paths: concrete) }
        case .set(let values, let allowPartial, let key):
            var concrete: [ParameterSetting] = []
            for setting in values {
                guard let matched = try expand(setting.path) else { return .refresh(prefixes) }
                concrete += matched.map { ParameterSetting(path: $0, value: setting.value, required: setting.required) }
            }
            guard !concrete.isEmpty else { return .nothing }
            expanded = .set(values: concrete, allowPartial: allowPartial, parameterKey: key)
        case .setAttributes(let settings):
            var concrete: [AttributeSetting] = []
            for setting in settings {
                guard let matched = try expand(setting.path) else { return .refresh(prefixes) }
                concrete += matched.map { AttributeSetting(path: $0, notification: setting.notification, accessList: setting.accessList) }
            }
            guard !concrete.isEmpty else { return .nothing }
            expanded = .setAttributes(concrete)
        case .delete(let objects):
            var concrete: [PathExpression] = []
            for object in objects {
                guard let matched = try expand(object) else { return .refresh(prefixes) }
                concrete += matched
            }
            guard !concrete.isEmpty else { return .nothing }
            expanded = .delete(objects: concrete)
        case .add(let object, let parameters):
            guard let matched = try expand(object) else { return .refresh(prefixes) }
            guard matched.count <= 1 else {
                throw Fault(
                    category: .invalidArguments,
                    message: "\(object) matches \(matched.count) tables; a CWMP add creates one instance, so name one table")
            }
            guard let table = matched.first else {
                throw Fault(category: .invalidPath, message: "\(object) matches no table on the device")
            }
            expanded = .add(object: table, parameters: parameters)
        default:
            return .concrete(operation)
        }
        return .concrete(expanded)
    }
}
