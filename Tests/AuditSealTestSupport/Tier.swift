import Foundation
import Testing

/// The test tiers. `swift test` runs the fast ones (unit and process) and names each suite it
/// skips; `AUDITSEAL_TESTS=all swift test` (what `.ci/run` runs) runs every tier, and a list
/// chooses (`AUDITSEAL_TESTS=unit,s3`). swift-testing's command line filters by name, not by tag
/// (`swift test --filter`), so the tier is a condition on the suite.
public enum Tier: String, CaseIterable, Sendable {
    /// In the test process: stores, formats, encoders, the ingest route in memory.
    case unit
    /// Starts auditseal (and the real sender or Fluent Bit, when present) on loopback, for a few
    /// seconds each: signals, TLS, kill -9, the command line as users run it.
    case process
    /// Needs an S3 server: `AUDITSEAL_S3_ENDPOINT`, or Ceph RGW installed here (scripts/rgw.sh
    /// starts it; it never installs packages from a test).
    case s3
    /// Long: power-cut and fault loops, large bodies, fuzz-corpus replays, end-to-end runs of tens
    /// of thousands of events (a minute or more of the two cores).
    case slow
    /// Builds or runs the container image (`AUDITSEAL_IMAGE`, which `.ci/run` builds).
    case image

    /// The tiers this run includes (`AUDITSEAL_TESTS`; unit and process when unset).
    public static let selected: Set<Tier> = {
        let text = ProcessInfo.processInfo.environment["AUDITSEAL_TESTS"] ?? "unit,process"
        if text == "all" { return Set(allCases) }
        var tiers = Set<Tier>()
        for name in text.split(separator: ",") {
            guard let tier = Tier(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                FileHandle.standardError.write(Data("AUDITSEAL_TESTS: no tier named \(name) (tiers: all, \(allCases.map(\.rawValue).joined(separator: ", ")))\n".utf8))
                continue
            }
            tiers.insert(tier)
        }
        return tiers
    }()

    public var isSelected: Bool { Self.selected.contains(self) }
}

extension Trait where Self == ConditionTrait {
    /// The suite or test belongs to `tier`: skipped, with the reason, unless the run includes it.
    public static func tier(_ tier: Tier) -> Self {
        .enabled(if: tier.isSelected, "tier \(tier.rawValue), not in this run: AUDITSEAL_TESTS=all (or a list naming \(tier.rawValue)) runs it")
    }
}
