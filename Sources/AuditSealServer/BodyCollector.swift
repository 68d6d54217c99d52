import AuditSealCore
import FoundationEssentials

/// Gathers a request body as it arrives: in memory (counted against the receiver's memory budget)
/// until it passes the spool threshold, then in an anonymous spool file that is mapped when done.
/// So a 1 GiB batch takes about as much anonymous memory as an 8 MiB one.
final class BodyCollector {
    /// Why collecting stopped.
    enum Failure: Error {
        case overLimit
        case budgetExhausted
        case spool(AuditSealError)
    }

    private let limit: Int
    private let threshold: Int
    private let spoolDirectory: String
    private let reservation: MemoryBudget.Reservation
    /// Budget bytes reserved per byte held in memory (2 for a body that is split into stored lines).
    private let memoryFactor: Int
    private var memory = [UInt8]()
    private var spool: SpoolFile?

    /// Bytes collected so far.
    private(set) var count = 0

    /// `expected` is the Content-Length when known: a larger body goes to the spool from its first byte.
    init(limit: Int, threshold: Int, spoolDirectory: String, reservation: MemoryBudget.Reservation,
         memoryFactor: Int, expected: Int?) throws {
        self.limit = limit
        self.threshold = threshold
        self.spoolDirectory = spoolDirectory
        self.reservation = reservation
        self.memoryFactor = memoryFactor
        if let expected, expected > threshold {
            spool = try Self.makeSpool(in: spoolDirectory)
        } else if let expected {
            memory.reserveCapacity(expected)  // one allocation instead of doubling as chunks arrive
        }
    }

    /// Whether the body went to a spool file.
    var isSpooled: Bool { spool != nil }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard count + bytes.count <= limit else { throw Failure.overLimit }
        count += bytes.count
        if spool == nil && memory.count + bytes.count > threshold {
            let spool = try Self.makeSpool(in: spoolDirectory)
            try memory.withUnsafeBytes { try Self.write($0, to: spool) }
            memory = []
            self.spool = spool
        }
        if let spool {
            try Self.write(bytes, to: spool)
        } else {
            guard reservation.reserve(memoryFactor * bytes.count) else { throw Failure.budgetExhausted }
            memory.append(contentsOf: bytes)
        }
    }

    /// The whole body: the array, or the spool file mapped.
    func finish() throws -> EventBytes {
        guard let spool else { return EventBytes(memory) }
        do { return try spool.map() } catch let error as AuditSealError { throw Failure.spool(error) }
    }

    private static func makeSpool(in directory: String) throws -> SpoolFile {
        do { return try SpoolFile(directory: directory) } catch let error as AuditSealError { throw Failure.spool(error) }
    }

    private static func write(_ bytes: UnsafeRawBufferPointer, to spool: SpoolFile) throws {
        do { try spool.append(bytes) } catch let error as AuditSealError { throw Failure.spool(error) }
    }
}
