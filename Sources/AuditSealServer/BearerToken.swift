import AuditSealCore
import FoundationEssentials

/// The bearer token senders must present, read from a file and re-read when the file changes
/// (checked at most once a second), compared in constant time.
public final class BearerToken: Sendable {
    private let path: String
    private let state = Locked<(token: [UInt8], modified: Date?, checked: Date)>(([], nil, .distantPast))

    public init(path: String) throws {
        self.path = path
        try reload()
    }

    /// Re-reads the file now.
    public func reload() throws {
        let bytes = try FileIO.readAll(path: path)
        let text = String(decoding: bytes, as: UTF8.self).trimmed
        guard !text.isEmpty else { throw ConfigurationError("tokenFile \(path) is empty") }
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        state.withLock {
            $0.token = Array(text.utf8)
            $0.modified = attributes?[.modificationDate] as? Date
        }
    }

    /// Whether an Authorization header value carries the token.
    public func accepts(authorization: String?) -> Bool {
        refreshIfChanged()
        guard let authorization, authorization.hasPrefix("Bearer ") else { return false }
        let presented = Array(authorization.dropFirst(7).utf8)
        let expected = state.withLock { $0.token }
        return Self.constantTimeEquals(presented, expected)
    }

    /// Compares without an early exit, so timing does not reveal a matching prefix.
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for i in 0..<max(a.count, b.count) {
            diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return diff == 0
    }

    private func refreshIfChanged() {
        let (due, known) = state.withLock { s -> (Bool, Date?) in
            let due = Date().timeIntervalSince(s.checked) >= 1
            if due { s.checked = Date() }
            return (due, s.modified)
        }
        guard due, let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let date = attributes[.modificationDate] as? Date, date != known else { return }
        try? reload()
    }
}
