import CAuditSealYAML

/// A YAML document's tree as libyaml parses it (YAML 1.1): scalars keep their text, style, explicit
/// tag and line; aliases are resolved to the node their anchor names.
public enum Node: Sendable, Equatable {
    case scalar(Scalar)
    case mapping(Mapping)
    case sequence([Node])

    public struct Scalar: Sendable, Equatable {
        public enum Style: Sendable, Equatable { case any, plain, singleQuoted, doubleQuoted, literal, folded }
        public var string: String
        public var style: Style
        /// The explicit tag, resolved (`!!str` is `tag:yaml.org,2002:str`); nil when none was written.
        public var tag: String?
        public var line: Int?

        public init(_ string: String, style: Style = .plain, tag: String? = nil, line: Int? = nil) {
            self.string = string
            self.style = style
            self.tag = tag
            self.line = line
        }
    }

    /// A mapping's pairs in document order.
    public struct Mapping: Sendable, Equatable, Sequence {
        public var pairs: [(key: Node, value: Node)]
        public var line: Int?

        public init(_ pairs: [(key: Node, value: Node)], line: Int? = nil) {
            self.pairs = pairs
            self.line = line
        }

        public func makeIterator() -> IndexingIterator<[(key: Node, value: Node)]> { pairs.makeIterator() }

        /// The value of the first pair whose key is the scalar `key`; setting replaces it in place
        /// or appends a pair.
        public subscript(key: String) -> Node? {
            get { pairs.first { $0.key.string == key }?.value }
            set {
                if let i = pairs.firstIndex(where: { $0.key.string == key }) {
                    if let newValue { pairs[i].value = newValue } else { pairs.remove(at: i) }
                } else if let newValue {
                    pairs.append((.scalar(Scalar(key)), newValue))
                }
            }
        }

        public static func == (a: Mapping, b: Mapping) -> Bool {
            a.pairs.count == b.pairs.count && zip(a.pairs, b.pairs).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        }
    }

    /// The scalar's text; nil for a mapping or a sequence.
    public var string: String? { if case .scalar(let s) = self { return s.string }; return nil }

    /// The line (1-based) where the node starts, when known.
    public var line: Int? {
        switch self {
        case .scalar(let s): return s.line
        case .mapping(let m): return m.line
        case .sequence: return nil
        }
    }
}

/// A document libyaml refused, with its line (1-based) and column.
public struct YAMLSyntaxError: Error, CustomStringConvertible {
    public var problem: String
    public var line: Int
    public var column: Int
    public var description: String { "line \(line), column \(column): \(problem)" }
}

enum YAMLComposer {
    /// At most this many nodes once aliases are expanded: an alias of an alias of … (the
    /// "billion laughs") would otherwise make every walk of the tree exponential.
    static let maximumExpandedNodes = 1_000_000

    /// The stream's single document's root (nil when the stream holds none).
    static func compose(_ text: String) throws -> Node? {
        var bytes = Array(text.utf8)
        if bytes.isEmpty { bytes = [0x0a] }
        return try bytes.withUnsafeBufferPointer { buffer in
            var parser = yaml_parser_t()
            guard yaml_parser_initialize(&parser) == 1 else { throw YAMLSyntaxError(problem: "out of memory", line: 0, column: 0) }
            defer { yaml_parser_delete(&parser) }
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var composer = Composer()
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    let problem = parser.problem.map { String(cString: $0) } ?? "not YAML"
                    let context = parser.context.map { String(cString: $0) + ": " } ?? ""
                    throw YAMLSyntaxError(problem: context + problem, line: Int(parser.problem_mark.line) + 1,
                                          column: Int(parser.problem_mark.column) + 1)
                }
                defer { yaml_event_delete(&event) }
                if event.type == YAML_STREAM_END_EVENT { break }
                try composer.handle(&event)
            }
            return composer.root
        }
    }

    private final class Frame {
        let isMapping: Bool
        let anchor: String?
        let line: Int
        var items = [Node]()
        var pairs = [(key: Node, value: Node)]()
        var pendingKey: Node?
        var size = 1  // expanded nodes below and including this one
        init(isMapping: Bool, anchor: String?, line: Int) { self.isMapping = isMapping; self.anchor = anchor; self.line = line }
    }

    private struct Composer {
        var stack = [Frame]()
        var anchors = [String: (node: Node, size: Int)]()
        var documents = 0
        var root: Node?
        var expanded = 0

        mutating func handle(_ event: inout yaml_event_t) throws {
            let line = Int(event.start_mark.line) + 1
            switch event.type {
            case YAML_DOCUMENT_START_EVENT:
                documents += 1
                guard documents == 1 else {
                    throw YAMLSyntaxError(problem: "expected a single document in the stream", line: line, column: Int(event.start_mark.column) + 1)
                }
            case YAML_SCALAR_EVENT:
                let s = event.data.scalar
                let text = String(decoding: UnsafeBufferPointer(start: s.value, count: Int(s.length)), as: UTF8.self)
                let style: Node.Scalar.Style
                switch s.style {
                case YAML_PLAIN_SCALAR_STYLE: style = .plain
                case YAML_SINGLE_QUOTED_SCALAR_STYLE: style = .singleQuoted
                case YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = .doubleQuoted
                case YAML_LITERAL_SCALAR_STYLE: style = .literal
                case YAML_FOLDED_SCALAR_STYLE: style = .folded
                default: style = .any
                }
                let tag = s.tag.map { String(cString: $0) }.flatMap { $0 == "!" ? nil : $0 }
                try add(.scalar(Node.Scalar(text, style: style, tag: tag, line: line)), size: 1, anchor: s.anchor.map { String(cString: $0) }, line: line)
            case YAML_ALIAS_EVENT:
                let name = String(cString: event.data.alias.anchor)
                guard let target = anchors[name] else {
                    throw YAMLSyntaxError(problem: "unknown alias \(name)", line: line, column: Int(event.start_mark.column) + 1)
                }
                try add(target.node, size: target.size, anchor: nil, line: line)
            case YAML_SEQUENCE_START_EVENT:
                stack.append(Frame(isMapping: false, anchor: event.data.sequence_start.anchor.map { String(cString: $0) }, line: line))
            case YAML_MAPPING_START_EVENT:
                stack.append(Frame(isMapping: true, anchor: event.data.mapping_start.anchor.map { String(cString: $0) }, line: line))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                let frame = stack.removeLast()
                let node: Node = frame.isMapping ? .mapping(Node.Mapping(frame.pairs, line: frame.line)) : .sequence(frame.items)
                try add(node, size: frame.size, anchor: frame.anchor, line: line, closing: true)
            default:
                break
            }
        }

        private mutating func add(_ node: Node, size: Int, anchor: String?, line: Int, closing: Bool = false) throws {
            if let anchor { anchors[anchor] = (node, size) }
            expanded += closing ? 1 : size  // a collection's members were counted as they came
            guard expanded <= YAMLComposer.maximumExpandedNodes else {
                throw YAMLSyntaxError(problem: "the document expands to more than \(YAMLComposer.maximumExpandedNodes) nodes through aliases", line: line, column: 1)
            }
            guard let frame = stack.last else {
                root = node
                return
            }
            frame.size += size
            if !frame.isMapping {
                frame.items.append(node)
            } else if let key = frame.pendingKey {
                frame.pairs.append((key, node))
                frame.pendingKey = nil
            } else {
                frame.pendingKey = node
            }
        }
    }
}
