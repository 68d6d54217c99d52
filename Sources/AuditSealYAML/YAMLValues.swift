/// How a plain scalar reads as a value (YAML 1.1's types, as Yams reads them): null, booleans,
/// integers (decimal, 0x, 0o, 0b, a leading 0 for octal, base 60), floats (.inf, .nan, base 60);
/// underscores are ignored in numbers. A quoted or block scalar, or one tagged `!!str`, is text.
enum YAMLScalars {
    static let strTag = "tag:yaml.org,2002:str"

    static func isNull(_ s: Node.Scalar) -> Bool {
        if s.tag == "tag:yaml.org,2002:null" { return true }
        guard s.tag == nil, s.style == .plain || s.style == .any else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(s.string)
    }

    static func bool(_ text: String) -> Bool? {
        switch text {
        case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON": return true
        case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": return false
        default: return nil
        }
    }

    /// The integer `text` spells, when it fits `T`.
    static func integer<T: FixedWidthInteger>(_ text: String, as _: T.Type = T.self) -> T? {
        var body = Substring(text.replacing("_", with: ""))
        var negative = false
        if body.hasPrefix("-") { negative = true; body = body.dropFirst() } else if body.hasPrefix("+") { body = body.dropFirst() }
        guard !body.isEmpty else { return nil }
        func signed(_ magnitude: T?) -> T? {
            guard let magnitude else { return nil }
            guard negative else { return magnitude }
            guard T.isSigned else { return magnitude == 0 ? 0 : nil }
            return 0 - magnitude
        }
        if body.hasPrefix("0x") { return signed(T(body.dropFirst(2), radix: 16)) }
        if body.hasPrefix("0o") { return signed(T(body.dropFirst(2), radix: 8)) }
        if body.hasPrefix("0b") { return signed(T(body.dropFirst(2), radix: 2)) }
        if body.count > 1 && body.hasPrefix("0") { return signed(T(body.dropFirst(), radix: 8)) }
        if body.contains(":") {
            var value: T = 0
            for part in body.split(separator: ":", omittingEmptySubsequences: false) {
                guard let digit = T(part), digit < 60 || value == 0 else { return nil }
                let (shifted, o1) = value.multipliedReportingOverflow(by: 60)
                let (sum, o2) = shifted.addingReportingOverflow(digit)
                guard !o1 && !o2 else { return nil }
                value = sum
            }
            return signed(value)
        }
        guard body.allSatisfy(\.isASCII), body.allSatisfy(\.isNumber) else { return nil }
        return negative ? T("-" + body) : T(body)
    }

    static func double(_ text: String) -> Double? {
        let body = text.replacing("_", with: "")
        switch body {
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .infinity
        case "-.inf", "-.Inf", "-.INF": return -.infinity
        case ".nan", ".NaN", ".NAN": return .nan
        default: break
        }
        if body.contains(":") {
            var rest = Substring(body)
            let negative = rest.hasPrefix("-")
            if negative || rest.hasPrefix("+") { rest = rest.dropFirst() }
            var value = 0.0
            for part in rest.split(separator: ":", omittingEmptySubsequences: false) {
                guard let digit = Double(part) else { return nil }
                value = value * 60 + digit
            }
            return negative ? -value : value
        }
        guard body.allSatisfy({ $0.isASCII && ($0.isNumber || "+-.eE".contains($0)) }) else { return nil }
        return Double(body)
    }

    /// The value a scalar resolves to: nil for null, else Bool, Int, Double or String.
    static func resolve(_ s: Node.Scalar) -> Any? {
        if isNull(s) { return nil }
        if let tag = s.tag {
            switch tag {
            case "tag:yaml.org,2002:bool": return bool(s.string) ?? s.string
            case "tag:yaml.org,2002:int": return integer(s.string, as: Int.self) ?? s.string
            case "tag:yaml.org,2002:float": return double(s.string) ?? s.string
            default: return s.string
            }
        }
        guard s.style == .plain || s.style == .any else { return s.string }
        if let b = bool(s.string) { return b }
        if let i = integer(s.string, as: Int.self) { return i }
        if let d = double(s.string), s.string.contains(where: { $0.isNumber || $0 == "." }) { return d }
        return s.string
    }
}

extension Node {
    /// The node as Swift values: `[String: Any]` (keys as their text), `[Any]`, `String`, `Int`,
    /// `Double`, `Bool`, and `YAMLNull` for null (as Yams' `Node.any` with `NSNull`).
    public var any: Any {
        switch self {
        case .scalar(let s): return YAMLScalars.resolve(s) ?? YAMLNull()
        case .sequence(let items): return items.map(\.any)
        case .mapping(let m):
            var out = [String: Any]()
            for (k, v) in m { out[k.string ?? "\(k.any)"] = v.any }
            return out
        }
    }
}

/// A YAML null in `Node.any`'s values.
public struct YAMLNull: Sendable, Equatable {}
