import ArgumentParser
import AuditSealCore

/// `--witness KEY... --witness-quorum K`, shared by verify, watch and verify-proof.
struct WitnessOptions: ParsableArguments {
    @Option(name: .customLong("witness"), help: "A witness's verifier key (name+keyID+base64 of 0x04 and its Ed25519 key, as `auditseal witness` prints it); repeatable.")
    var witnessKeys: [String] = []

    @Option(name: .customLong("witness-quorum"), help: "How many of the --witness keys must have cosigned (default: 1 when --witness is given).")
    var quorum: Int?

    /// The policy, or nil when no witness was named.
    func policy() throws -> WitnessPolicy? {
        guard !witnessKeys.isEmpty else {
            if quorum != nil { throw ValidationError("--witness-quorum needs --witness keys") }
            return nil
        }
        let keys: [WitnessKey]
        do { keys = try witnessKeys.map(WitnessKey.init(verifierKey:)) } catch { throw ValidationError("\(error)") }
        let q = quorum ?? 1
        guard q >= 1, q <= keys.count else { throw ValidationError("--witness-quorum must be between 1 and the number of --witness keys (\(keys.count))") }
        return WitnessPolicy(witnesses: keys, quorum: q)
    }
}
