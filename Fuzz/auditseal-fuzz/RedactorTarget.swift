import AuditSealCore
import AuditSealRedaction
import Foundation

/// The redactor, differentially: for every event the scanner accepts, the redacted line is JSON of
/// the same shape (same members, same array lengths, every number, literal and member name
/// unchanged); each string is unchanged or holds a marker; the markers are exactly the redacted
/// values' commitments, in order; each commitment reproduces from its value; and redacting the
/// output again removes nothing the markers already stand for (markers are never re-redacted).
enum RedactorTarget {
    static let redactor: Redactor = {
        var configuration = RedactionConfiguration()
        configuration.personalData = ["userExtra"]
        configuration.rules = [.init(name: "fuzz-path", path: "requestObject.metadata.annotations.*", resources: ["configmaps"])]
        return try! Redactor(configuration: configuration)
    }()

    static func run(_ bytes: [UInt8]) {
        guard let batch = try? EventScanner(mode: .stream).scan(bytes) else { return }
        for i in 0..<batch.count {
            let line = batch.line(i)
            let result: (line: [UInt8], values: [RedactedValue])?
            do { result = try redactor.redact(line, fields: { batch.fields(i) }) } catch {
                fatalError("the redactor refused a line the scanner accepted: \(error)")
            }
            guard let (out, values) = result else { continue }
            guard let before = try? JSONSerialization.jsonObject(with: Data(line), options: [.fragmentsAllowed]),
                  let after = try? JSONSerialization.jsonObject(with: Data(out), options: [.fragmentsAllowed]) else {
                fatalError("a redacted line is not JSON: \(String(decoding: out, as: UTF8.self).prefix(300))")
            }
            same(before, after, path: "$")
            let found = RedactionMarker.find(in: out)
            guard found.map(\.commitment) == values.map(\.commitment) else { fatalError("markers and redacted values disagree") }
            for v in values where RedactionMarker.commitment(salt: v.salt, path: v.path, raw: v.raw) != v.commitment {
                fatalError("a commitment does not reproduce")
            }
        }
    }

    /// Same shape; strings equal or holding a marker.
    static func same(_ a: Any, _ b: Any, path: String) {
        switch (a, b) {
        case (let x as [String: Any], let y as [String: Any]):
            guard Set(x.keys) == Set(y.keys) else { fatalError("\(path): members changed") }
            for (k, v) in x { same(v, y[k]!, path: path + "." + k) }
        case (let x as [Any], let y as [Any]):
            guard x.count == y.count else { fatalError("\(path): array length changed") }
            for (n, (v, w)) in zip(x, y).enumerated() { same(v, w, path: "\(path)[\(n)]") }
        case (let x as String, let y as String):
            guard x == y || y.contains(RedactionMarker.prefix) else { fatalError("\(path): a string changed without a marker") }
        case (let x as NSNumber, let y as NSNumber):
            guard x == y else { fatalError("\(path): a number changed") }
        case (is NSNull, is NSNull):
            return
        default:
            fatalError("\(path): a value changed type (\(type(of: a)) to \(type(of: b)))")
        }
    }
}
