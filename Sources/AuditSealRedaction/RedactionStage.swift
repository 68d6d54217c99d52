import AuditSealCore
import FoundationEssentials

/// Redaction as the step before every append (webhook batches, backfilled and imported events):
/// the events' lines with their markers, and the vault records of the originals written and
/// synced first. A batch no rule applies to is passed on as it is, unparsed.
public final class RedactionStage: BatchPreparing {
    public let redactor: Redactor
    let vault: VaultWriter?
    /// Redactions per rule since the start (counts only, never values), for /metrics.
    private let counts = Locked([String: Int]())
    /// Called with each batch's redactions per rule.
    let onRedacted: @Sendable ([String: Int]) -> Void

    public init(configuration: RedactionConfiguration, dataDirectory: String,
                onRedacted: @escaping @Sendable ([String: Int]) -> Void = { _ in }) throws {
        redactor = try Redactor(configuration: configuration)
        let keys = try configuration.auditorKeys.enumerated().map { i, path in
            do { return try AuditorKeys.loadPublic(path: path) } catch {
                throw AuditSealError(.usage, "redaction.auditorKeys[\(i)]: \(error)")
            }
        }
        vault = keys.isEmpty ? nil : try VaultWriter(directory: StoreLayout(root: dataDirectory).vaultDirectory, auditorKeys: keys)
        self.onRedacted = onRedacted
    }

    /// Whether the originals are kept (some auditor key is configured).
    public var keepsOriginals: Bool { vault != nil }

    /// Closes the open vault file, so that it ships (at the stop).
    public func closeVault() throws { try vault?.close() }

    /// Redactions per rule since the start.
    public var redactionsByRule: [String: Int] { counts.withLock { $0 } }

    /// Whether the rules change this event line (one JSON event): reconciliation then cannot
    /// compare the stored copy's leaf with it.
    public func changes(_ line: [UInt8]) -> Bool {
        guard let batch = try? EventScanner(mode: .stream).scan(line + [0x0a]), batch.count == 1 else { return false }
        return (try? redactor.redact(batch.line(0), fields: { batch.fields(0) })) != nil
    }

    public func prepare(_ batch: EventBatch) async throws -> EventBatch {
        // The fast path: a byte search over the lines in place, no copy, no parse.
        let candidates = batch.lines.withUnsafeBytes { raw in
            batch.events.indices.filter { i in
                redactor.mayApply(to: UnsafeRawBufferPointer(rebasing: raw[batch.events[i].line]), resourceIs: { batch.field(i, .resource, is: $0) })
            }
        }
        guard !candidates.isEmpty else { return batch }
        let candidateSet = Set(candidates)
        var lines = [[UInt8]]()
        var opened = [[RedactedValue]]()
        var changed = false
        for i in 0..<batch.count {
            let line = batch.line(i)
            if candidateSet.contains(i), let (redacted, values) = try redactor.redact(line, fields: { batch.fields(i) }) {
                lines.append(redacted)
                opened.append(values)
                changed = true
            } else {
                lines.append(line)
            }
        }
        guard changed else { return batch }
        // The originals are durable (encrypted) before their events can be acknowledged.
        try vault?.write(opened)
        var perRule = [String: Int]()
        for values in opened { for v in values { perRule[v.rule, default: 0] += 1 } }
        counts.withLock { for (rule, n) in perRule { $0[rule, default: 0] += n } }
        onRedacted(perRule)
        var joined = [UInt8]()
        joined.reserveCapacity(lines.reduce(0) { $0 + $1.count + 1 })
        for line in lines { joined += line; joined.append(0x0a) }
        var rescanned = try EventScanner(mode: .stream).scan(joined)
        rescanned.backfilled = batch.backfilled
        return rescanned
    }
}
