
/// YAML that an operator hands us (serve's config, audit policies, kubeconfigs), parsed once and
/// checked before any value is built from it.
///
/// A plain scalar holding `:` reads as a YAML 1.1 base-60 number. Beyond the integer range it has
/// no reading: Yams' arithmetic trapped on it (`segmentMaxBytes: 6550000000000044642:2`, or any
/// eleven parts such as `1:1:1:1:1:1:1:1:1:1:1`, found by the config fuzz target), and our own
/// reading would leave it as text, so a number field would get a vaguer error. `compose` refuses
/// those scalars with an error that names where they are; every other scalar is left to the
/// decoder.
public enum YAMLDocument {
    /// The document's root node (nil when empty), after the check.
    public static func compose(_ text: String) throws -> Node? {
        guard let root = try YAMLComposer.compose(text) else { return nil }
        try check(root, path: "")
        return root
    }

    /// The document as Swift values (`Node.any`: mappings, arrays, text, numbers, booleans), after the check.
    public static func load(_ text: String) throws -> Any? {
        try compose(text)?.any
    }

    /// A base-60 number beyond the integer range, and where it is.
    public struct NumberOutOfRange: Error, CustomStringConvertible {
        public var path: String
        public var value: String
        public var line: Int?
        public var description: String {
            let place = path.isEmpty ? "the document" : "field \"\(path)\""
            return "\(place)\(line.map { " (line \($0))" } ?? ""): \(value) is a YAML 1.1 base-60 number beyond the integer range (quote it if it is text)"
        }
    }

    private static func check(_ node: Node, path: String) throws {
        switch node {
        case .scalar(let scalar):
            if (scalar.style == .plain || scalar.style == .any) && overflowsAsBase60(scalar.string) {
                throw NumberOutOfRange(path: path, value: scalar.string, line: node.line)
            }
        case .mapping(let mapping):
            for (key, value) in mapping {
                let name = key.string ?? "?"
                try check(key, path: path)
                try check(value, path: path.isEmpty ? name : path + "." + name)
            }
        case .sequence(let sequence):
            for (i, element) in sequence.enumerated() { try check(element, path: path + "[\(i)]") }
        }
    }

    /// True when the base-60 integer reading of `text` (Yams' FixedWidthInteger.private_construct
    /// and SexagesimalConvertible.init(sexagesimal:), for Int and UInt) would overflow.
    static func overflowsAsBase60(_ text: String) -> Bool {
        guard text.contains(":") else { return false }
        let digits = text.replacing("_", with: "")  // as Yams: underscores are ignored
        return overflows(Int64.self, digits) || overflows(UInt64.self, digits)
    }

    private static func overflows<T: FixedWidthInteger>(_: T.Type, _ text: String) -> Bool {
        var scalar = Substring(text)
        var sign: T = 1
        if scalar.hasPrefix("-") {
            guard T.isSigned else { return false }
            scalar = scalar.dropFirst()
            sign = 0 &- 1
        } else if scalar.hasPrefix("+") {
            scalar = scalar.dropFirst()
        }
        // Yams reads a leading 0x, 0b, 0o or 0 with a radix instead, never as base 60.
        if scalar.hasPrefix("0") { return false }
        let parts = scalar.split(separator: ":", omittingEmptySubsequences: false).map { T(String($0)) }
        guard parts.allSatisfy({ $0 != nil }) else { return false }
        var base: T = 1
        var value: T = 0
        for digit in parts.reversed().map({ $0! }) {
            let (product, o1) = digit.multipliedReportingOverflow(by: base)
            let (sum, o2) = value.addingReportingOverflow(product)
            let (next, o3) = base.multipliedReportingOverflow(by: 60)
            if o1 || o2 || o3 { return true }
            value = sum
            base = next
        }
        return sign.multipliedReportingOverflow(by: value).overflow
    }
}
