import Yams

extension IdentityModel {
    /// Parses and validates `identity.yaml` text. Unknown fields, wrong types and values out of
    /// range are errors that name the field and line.
    public init(yaml: String) throws(IdentityModelError) {
        guard yaml.utf8.count <= Limits.fileSize else {
            throw IdentityModelError(field: "", line: nil, message: "file is larger than \(Limits.fileSize) bytes")
        }
        let root: Node?
        do { root = try Yams.compose(yaml: yaml) } catch let error as YamlError {
            throw IdentityModelError(field: "", line: Self.line(of: error), message: "not valid YAML: \(Self.problem(of: error))")
        } catch {
            throw IdentityModelError(field: "", line: nil, message: "not valid YAML: \(error)")
        }
        guard let root else { throw IdentityModelError(field: "", line: nil, message: "the file is empty; it needs at least `name:`") }
        var reader = YAMLReader()
        self = try reader.readModel(root)
        try validate()
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
        default: return nil
        }
    }

    private static func problem(of error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _): return problem
        case .duplicatedKeysInMapping(let duplicates, _): return "duplicate keys \(duplicates.joined(separator: ", "))"
        default: return "\(error)"
        }
    }
}

/// Walks a YAML node tree into an ``IdentityModel``, bounded in the number of nodes it visits
/// (aliases are refused outright).
private struct YAMLReader {
    var visited = 0
    static let maxNodes = 50_000

    typealias Fields = [String: (node: Node, line: Int?)]

    mutating func visit(_ node: Node, _ field: String) throws(IdentityModelError) {
        visited += 1
        guard visited <= Self.maxNodes else { throw IdentityModelError(field: field, line: node.mark?.line, message: "too many YAML nodes") }
        if case .alias = node { throw IdentityModelError(field: field, line: node.mark?.line, message: "YAML aliases are not allowed") }
    }

    mutating func mapping(_ node: Node, _ field: String, allowed: [String]) throws(IdentityModelError) -> Fields {
        try visit(node, field)
        guard case .mapping(let mapping) = node else {
            throw IdentityModelError(field: field, line: node.mark?.line, message: "must be a mapping of keys to values")
        }
        var out: Fields = [:]
        for (key, value) in mapping {
            try visit(key, field)
            guard case .scalar(let scalar) = key else {
                throw IdentityModelError(field: field, line: key.mark?.line, message: "keys must be plain words")
            }
            let path = field.isEmpty ? scalar.string : "\(field).\(scalar.string)"
            guard allowed.contains(scalar.string) else {
                throw IdentityModelError(field: path, line: key.mark?.line,
                                         message: "unknown field (allowed here: \(allowed.joined(separator: ", ")))")
            }
            guard out[scalar.string] == nil else {
                throw IdentityModelError(field: path, line: key.mark?.line, message: "appears twice")
            }
            out[scalar.string] = (value, key.mark?.line)
        }
        return out
    }

    mutating func string(_ node: Node, _ field: String, maxBytes: Int, allowEmpty: Bool = true) throws(IdentityModelError) -> String {
        try visit(node, field)
        guard case .scalar(let scalar) = node else {
            throw IdentityModelError(field: field, line: node.mark?.line, message: "must be text, not a list or mapping")
        }
        let text = scalar.string.trimmingCharactersInWhitespace()
        if !allowEmpty && text.isEmpty { throw IdentityModelError(field: field, line: node.mark?.line, message: "must not be empty") }
        guard text.utf8.count <= maxBytes else {
            throw IdentityModelError(field: field, line: node.mark?.line, message: "is \(text.utf8.count) bytes; at most \(maxBytes) allowed")
        }
        return text
    }

    mutating func strings(_ node: Node, _ field: String, maxCount: Int, maxBytes: Int) throws(IdentityModelError) -> [String] {
        try visit(node, field)
        guard case .sequence(let sequence) = node else {
            throw IdentityModelError(field: field, line: node.mark?.line, message: "must be a list, like [a, b]")
        }
        guard sequence.count <= maxCount else {
            throw IdentityModelError(field: field, line: node.mark?.line, message: "has \(sequence.count) items; at most \(maxCount) allowed")
        }
        var out: [String] = []
        for (i, item) in sequence.enumerated() {
            out.append(try string(item, "\(field)[\(i)]", maxBytes: maxBytes, allowEmpty: false))
        }
        return out
    }

    mutating func choice<T: RawRepresentable & CaseIterable>(_ node: Node, _ field: String, as: T.Type) throws(IdentityModelError) -> T where T.RawValue == String {
        let text = try string(node, field, maxBytes: 64)
        guard let value = T(rawValue: text) else {
            let options = T.allCases.map(\.rawValue).joined(separator: " | ")
            throw IdentityModelError(field: field, line: node.mark?.line, message: "'\(text)' is not one of \(options)")
        }
        return value
    }

    mutating func integer(_ node: Node, _ field: String, range: ClosedRange<Int>) throws(IdentityModelError) -> Int {
        let text = try string(node, field, maxBytes: 32)
        guard let value = Int(text), range.contains(value) else {
            throw IdentityModelError(field: field, line: node.mark?.line, message: "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// A fraction in [0, 1] with at most three decimals, as thousandths (no floating point, so
    /// the canonical CBOR of the model stays exact).
    mutating func thousandths(_ node: Node, _ field: String) throws(IdentityModelError) -> Int {
        let text = try string(node, field, maxBytes: 16)
        let fail = IdentityModelError(field: field, line: node.mark?.line, message: "must be a number from 0 to 1 with at most 3 decimals, like 0.6")
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              !parts[0].isEmpty, let whole = Int(parts[0]) else { throw fail }
        var fraction = 0
        if parts.count == 2 {
            let digits = parts[1]
            guard (1...3).contains(digits.count), let f = Int(digits) else { throw fail }
            fraction = f * [1, 100, 10, 1][digits.count]
        }
        let value = whole * 1000 + fraction
        guard (0...1000).contains(value) else { throw fail }
        return value
    }

    mutating func readModel(_ root: Node) throws(IdentityModelError) -> IdentityModel {
        let top = try mapping(root, "", allowed: ["name", "bio", "interests", "values", "style", "memories", "policy", "engine"])
        guard let nameField = top["name"] else {
            throw IdentityModelError(field: "name", line: nil, message: "is required (the name your AI identity goes by)")
        }
        var model = IdentityModel(name: try string(nameField.node, "name", maxBytes: IdentityModel.Limits.name, allowEmpty: false))
        if let f = top["bio"] { model.bio = try string(f.node, "bio", maxBytes: IdentityModel.Limits.bio) }
        if let f = top["interests"] { model.interests = try strings(f.node, "interests", maxCount: IdentityModel.Limits.interests, maxBytes: IdentityModel.Limits.word) }
        if let f = top["values"] { model.values = try strings(f.node, "values", maxCount: IdentityModel.Limits.values, maxBytes: IdentityModel.Limits.word) }
        if let f = top["style"] { model.style = try string(f.node, "style", maxBytes: IdentityModel.Limits.style) }
        if let f = top["memories"] {
            try visit(f.node, "memories")
            guard case .sequence(let items) = f.node else {
                throw IdentityModelError(field: "memories", line: f.node.mark?.line, message: "must be a list of {text, visibility, tags}")
            }
            guard items.count <= IdentityModel.Limits.memories else {
                throw IdentityModelError(field: "memories", line: f.node.mark?.line, message: "at most \(IdentityModel.Limits.memories) memories")
            }
            for (i, item) in items.enumerated() {
                let path = "memories[\(i)]"
                let m = try mapping(item, path, allowed: ["text", "visibility", "tags"])
                guard let text = m["text"] else { throw IdentityModelError(field: "\(path).text", line: item.mark?.line, message: "is required") }
                guard let vis = m["visibility"] else {
                    throw IdentityModelError(field: "\(path).visibility", line: item.mark?.line, message: "is required: public, friends or private")
                }
                model.memories.append(.init(
                    text: try string(text.node, "\(path).text", maxBytes: IdentityModel.Limits.memoryText, allowEmpty: false),
                    visibility: try choice(vis.node, "\(path).visibility", as: IdentityModel.Visibility.self),
                    tags: try m["tags"].map { tf throws(IdentityModelError) in
                        try strings(tf.node, "\(path).tags", maxCount: IdentityModel.Limits.tags, maxBytes: IdentityModel.Limits.word)
                    } ?? []
                ))
            }
        }
        if let f = top["policy"] {
            let p = try mapping(f.node, "policy", allowed: ["converse", "connect", "min_match", "max_turns", "daily_conversations", "meet", "addresses", "dht", "relay"])
            if let v = p["converse"] { model.policy.converse = try choice(v.node, "policy.converse", as: IdentityModel.ConversePolicy.self) }
            if let v = p["connect"] { model.policy.connect = try choice(v.node, "policy.connect", as: IdentityModel.ConnectPolicy.self) }
            if let v = p["min_match"] { model.policy.minMatchThousandths = try thousandths(v.node, "policy.min_match") }
            if let v = p["max_turns"] { model.policy.maxTurns = try integer(v.node, "policy.max_turns", range: 2...200) }
            if let v = p["meet"] { model.policy.meet = try choice(v.node, "policy.meet", as: IdentityModel.MeetPolicy.self) }
            if let v = p["addresses"] { model.policy.addresses = try choice(v.node, "policy.addresses", as: IdentityModel.AddressPolicy.self) }
            if let v = p["dht"] { model.policy.dht = try choice(v.node, "policy.dht", as: IdentityModel.DHTPolicy.self) }
            if let v = p["relay"] { model.policy.relay = try choice(v.node, "policy.relay", as: IdentityModel.RelayPolicy.self) }
            if let v = p["daily_conversations"] { model.policy.dailyConversations = try integer(v.node, "policy.daily_conversations", range: 0...10_000) }
        }
        if let f = top["engine"] {
            let e = try mapping(f.node, "engine", allowed: ["kind", "url", "model", "api_key_env", "script", "seed"])
            if let v = e["kind"] { model.engine.kind = try choice(v.node, "engine.kind", as: IdentityModel.EngineKind.self) }
            if let v = e["url"] { model.engine.url = try string(v.node, "engine.url", maxBytes: 512, allowEmpty: false) }
            if let v = e["model"] { model.engine.model = try string(v.node, "engine.model", maxBytes: 256, allowEmpty: false) }
            if let v = e["api_key_env"] { model.engine.apiKeyEnv = try string(v.node, "engine.api_key_env", maxBytes: 128, allowEmpty: false) }
            if let v = e["script"] { model.engine.script = try string(v.node, "engine.script", maxBytes: 1024, allowEmpty: false) }
            if let v = e["seed"] { model.engine.seed = UInt64(try integer(v.node, "engine.seed", range: 0...Int.max)) }
            let engineLine = f.line
            switch model.engine.kind {
            case .openai:
                if model.engine.url == nil { throw IdentityModelError(field: "engine.url", line: engineLine, message: "is required for kind openai (e.g. http://127.0.0.1:8080/v1)") }
                if model.engine.model == nil { throw IdentityModelError(field: "engine.model", line: engineLine, message: "is required for kind openai") }
            case .script:
                if model.engine.script == nil { throw IdentityModelError(field: "engine.script", line: engineLine, message: "is required for kind script (a file of turns)") }
            case .embedded:
                break
            }
        }
        return model
    }
}

extension String {
    func trimmingCharactersInWhitespace() -> String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}
