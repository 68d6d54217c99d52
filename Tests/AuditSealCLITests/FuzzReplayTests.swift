import AuditSealTestSupport
import Foundation
import Testing

/// The short version of the fuzzing in CI: every libFuzzer target (Fuzz/auditseal-fuzz) replays its
/// seed corpus (real events, real store files) and must neither crash nor fail its differential
/// checks. The long runs are `bash scripts/fuzz.sh [RUNS]` (docs/RELIABILITY.md).
@Suite(.tier(.process)) struct FuzzReplayTests {
    @Test(arguments: ["scanner", "wal", "manifest", "note", "proof", "verifier", "config", "s3xml", "reconcile", "recovery", "redactor"])
    func seedCorpusReplays(target: String) throws {
        let corpus = TestSupport.packageRoot + "/Fuzz/corpus/" + target
        let inputs = try FileManager.default.contentsOfDirectory(atPath: corpus)
        #expect(!inputs.isEmpty)
        let r = try TestSupport.run(TestSupport.product("auditseal-fuzz"), [target, corpus])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("replayed \(inputs.count) input(s) through \(target)"), "\(r.stdout)")
    }
}
