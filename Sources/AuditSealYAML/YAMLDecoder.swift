/// Decodes `Decodable` values from a YAML node, as Yams' `YAMLDecoder` does: a scalar is read as
/// the type asked for (text as written, or a number, boolean or null as YAML 1.1 spells them);
/// errors are `DecodingError`s whose coding path names the field.
public struct YAMLDecoder {
    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from node: Node) throws -> T {
        try NodeDecoder(node: node, codingPath: []).decodeValue(T.self)
    }
}

private struct NodeDecoder: Decoder {
    let node: Node
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .mapping(let mapping) = node else { throw mismatch([String: Any].self, "a mapping") }
        return KeyedDecodingContainer(KeyedNodes(mapping: mapping, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .sequence(let items) = node else { throw mismatch([Any].self, "a sequence") }
        return UnkeyedNodes(items: items, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { SingleNode(decoder: self) }

    func mismatch(_ type: Any.Type, _ expected: String) -> DecodingError {
        .typeMismatch(type, .init(codingPath: codingPath, debugDescription: "expected \(expected)\(node.line.map { " (line \($0))" } ?? "")"))
    }

    var isNull: Bool { if case .scalar(let s) = node { return YAMLScalars.isNull(s) }; return false }

    func scalar<T>(_ type: T.Type, _ read: (String) -> T?) throws -> T {
        guard case .scalar(let s) = node else { throw mismatch(T.self, "a scalar") }
        if isNull { throw DecodingError.valueNotFound(T.self, .init(codingPath: codingPath, debugDescription: "null")) }
        guard let value = read(s.string) else { throw mismatch(T.self, "\(T.self)") }
        return value
    }

    func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
        switch type {
        case is String.Type: return try scalar(String.self) { $0 } as! T
        case is Bool.Type: return try scalar(Bool.self, YAMLScalars.bool) as! T
        case is Double.Type: return try scalar(Double.self) { YAMLScalars.integer($0, as: Int64.self).map(Double.init) ?? YAMLScalars.double($0) } as! T
        case is Float.Type: return try scalar(Float.self) { YAMLScalars.double($0).map(Float.init) } as! T
        case is Int.Type: return try scalar(Int.self) { YAMLScalars.integer($0) } as! T
        case is Int64.Type: return try scalar(Int64.self) { YAMLScalars.integer($0) } as! T
        case is Int32.Type: return try scalar(Int32.self) { YAMLScalars.integer($0) } as! T
        case is UInt.Type: return try scalar(UInt.self) { YAMLScalars.integer($0) } as! T
        case is UInt64.Type: return try scalar(UInt64.self) { YAMLScalars.integer($0) } as! T
        case is UInt32.Type: return try scalar(UInt32.self) { YAMLScalars.integer($0) } as! T
        case is UInt16.Type: return try scalar(UInt16.self) { YAMLScalars.integer($0) } as! T
        case is UInt8.Type: return try scalar(UInt8.self) { YAMLScalars.integer($0) } as! T
        default: return try T(from: self)
        }
    }
}

private struct SingleNode: SingleValueDecodingContainer {
    let decoder: NodeDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }
    func decodeNil() -> Bool { decoder.isNull }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.decodeValue(T.self) }
}

private struct KeyedNodes<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let values: [String: Node]
    let codingPath: [any CodingKey]
    let allKeys: [Key]

    init(mapping: Node.Mapping, codingPath: [any CodingKey]) {
        var values = [String: Node]()
        for (k, v) in mapping { if let name = k.string, values[name] == nil { values[name] = v } }
        self.values = values
        self.codingPath = codingPath
        allKeys = mapping.compactMap { $0.key.string.flatMap(Key.init(stringValue:)) }
    }

    func contains(_ key: Key) -> Bool { values[key.stringValue] != nil }

    private func child(_ key: Key) throws -> NodeDecoder {
        guard let node = values[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no field \(key.stringValue)"))
        }
        return NodeDecoder(node: node, codingPath: codingPath + [key])
    }

    func decodeNil(forKey key: Key) throws -> Bool { try child(key).isNull }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try child(key).decodeValue(T.self) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try child(key).container(keyedBy: type)
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { try child(key).unkeyedContainer() }
    func superDecoder() throws -> any Decoder { NodeDecoder(node: .mapping(Node.Mapping(values.map { (.scalar(Node.Scalar($0.key)), $0.value) })), codingPath: codingPath) }
    func superDecoder(forKey key: Key) throws -> any Decoder { try child(key) }
}

private struct IndexKey: CodingKey {
    var stringValue: String { "\(intValue!)" }
    var intValue: Int?
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

private struct UnkeyedNodes: UnkeyedDecodingContainer {
    let items: [Node]
    let codingPath: [any CodingKey]
    var currentIndex = 0
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    init(items: [Node], codingPath: [any CodingKey]) {
        self.items = items
        self.codingPath = codingPath
    }

    private mutating func next() throws -> NodeDecoder {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(Node.self, .init(codingPath: codingPath, debugDescription: "the sequence has no more items"))
        }
        defer { currentIndex += 1 }
        return NodeDecoder(node: items[currentIndex], codingPath: codingPath + [IndexKey(currentIndex)])
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, NodeDecoder(node: items[currentIndex], codingPath: codingPath).isNull else { return false }
        currentIndex += 1
        return true
    }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decodeValue(T.self) }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next().container(keyedBy: type)
    }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }
    mutating func superDecoder() throws -> any Decoder { try next() }
}
