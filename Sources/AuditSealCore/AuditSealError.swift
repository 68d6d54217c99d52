/// The one error type of the core: a `code` that tests compare and a `reason` that people read.
public struct AuditSealError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of failure this is.
    public enum Code: String, Sendable {
        case malformedInput
        /// Valid so far, but over a size limit.
        case tooLarge
        case crypto
        case compression
        case io
        case storage
        case keys
        case usage
        /// The store is closing: it takes no more appends or requests.
        case shuttingDown
        /// Another process holds the data directory's lock.
        case directoryInUse
    }

    public let code: Code
    public let reason: String
    public let location: String

    public var description: String { reason }

    public init(_ code: Code, _ reason: String, fileID: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.location = "\(fileID):\(line)"
    }

    public static func == (lhs: AuditSealError, rhs: AuditSealError) -> Bool {
        lhs.code == rhs.code && lhs.reason == rhs.reason
    }

    static func malformed(_ reason: String, fileID: String = #fileID, line: Int = #line) -> AuditSealError {
        AuditSealError(.malformedInput, reason, fileID: fileID, line: line)
    }

    static func crypto(_ reason: String, fileID: String = #fileID, line: Int = #line) -> AuditSealError {
        AuditSealError(.crypto, reason, fileID: fileID, line: line)
    }

    /// An I/O failure, with the errno text appended to the reason.
    public static func io(_ reason: String, errno code: Int32, fileID: String = #fileID, line: Int = #line) -> AuditSealError {
        AuditSealError(.io, "\(reason): \(String(cString: strerror(code))) (errno \(code))", fileID: fileID, line: line)
    }

    static func storage(_ reason: String, fileID: String = #fileID, line: Int = #line) -> AuditSealError {
        AuditSealError(.storage, reason, fileID: fileID, line: line)
    }

    static func keys(_ reason: String, fileID: String = #fileID, line: Int = #line) -> AuditSealError {
        AuditSealError(.keys, reason, fileID: fileID, line: line)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
