import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// Key rotation: a handover heartbeat signed by the current key names the next; a verifier that
/// trusts only the first public key follows two handovers; the retired key can sign nothing after.
@Suite struct KeyRotationTests {
    static func batch(_ prefix: String) throws -> EventBatch {
        try EventScanner(mode: .eventList).scan(TestSupport.eventList(count: 20, prefix: prefix))
    }

    static func verify(_ path: String, trusting keys: [Ed25519PublicKey]) -> VerificationReport {
        Verifier(source: DirectorySource(root: path), options: .init(trustedKeys: keys)).run()
    }

    /// A store signed by k1, handed to k2, then to k3, with events and sealed segments in each era.
    static func rotatedStore() async throws -> (path: String, keys: [Ed25519PrivateKey]) {
        let dir = TestSupport.temporaryDirectory("rotation")
        let keys = try (0..<3).map { _ in try Ed25519PrivateKey.generate() }
        var config = StoreConfiguration(dataDirectory: dir + "/data", nodeName: "cp-1")
        config.segmentMaxBytes = 1 << 30
        let store = try AuditStore(configuration: config, signingKey: keys[0])
        _ = try await store.append(try batch("k1"))
        try await store.sealNow()
        try await store.rotateKey(to: keys[1])
        #expect(store.signingKeyID == keys[1].publicKey.keyID)
        _ = try await store.append(try batch("k2"))
        try await store.sealNow()
        try await store.close()
        // A restart with the new key continues; the next rotation happens after it.
        let again = try AuditStore(configuration: config, signingKey: keys[1])
        _ = try await again.append(try batch("k2b"))
        try await again.rotateKey(to: keys[2])
        _ = try await again.append(try batch("k3"))
        try await again.close()
        return (dir + "/data", keys)
    }

    @Test func aVerifierTrustingOnlyTheFirstKeyFollowsTwoHandovers() async throws {
        let (path, keys) = try await Self.rotatedStore()
        let report = Self.verify(path, trusting: [keys[0].publicKey])
        #expect(report.intact, "\(report.findings)")
        #expect(report.treeSize == 80)
        #expect(report.trustedKeyIDs == keys.map(\.publicKey.keyID))
        let layout = StoreLayout(root: path)
        let manifests = try layout.manifestSequences().map { try StableJSON.decode(Manifest.self, from: try FileIO.readAll(path: layout.manifestPath($0))) }
        #expect(manifests.compactMap(\.nextKeyID) == [keys[1].publicKey.keyID, keys[2].publicKey.keyID])
        #expect(manifests.last?.keyID == keys[2].publicKey.keyID)
        // Trusting only a later key leaves the earlier manifests unverifiable, as it must.
        let partial = Self.verify(path, trusting: [keys[1].publicKey])
        #expect(partial.findings.contains { $0.code == "unknown-key" })
    }

    @Test func aManifestSignedByTheRetiredKeyAfterTheHandoverIsAFinding() async throws {
        let (path, keys) = try await Self.rotatedStore()
        let layout = StoreLayout(root: path)
        // The old key k1 (stolen, or kept) signs a manifest after its handover to k2.
        let sequences = try layout.manifestSequences()
        let manifests = try sequences.map { try StableJSON.decode(Manifest.self, from: try FileIO.readAll(path: layout.manifestPath($0))) }
        let handover = try #require(manifests.firstIndex { $0.nextKeyID == keys[1].publicKey.keyID })
        let victim = sequences[handover + 1]
        var forged = manifests[handover + 1]
        forged.keyID = keys[0].publicKey.keyID
        let bytes = try StableJSON.encode(forged) + [0x0a]
        try FileIO.writeAtomically(path: layout.manifestPath(victim), bytes: bytes)
        try FileIO.writeAtomically(path: layout.signaturePath(victim), bytes: Array((Base64.encode(try keys[0].signature(for: bytes)) + "\n").utf8))
        let report = Self.verify(path, trusting: [keys[0].publicKey])
        #expect(!report.intact)
        #expect(report.findings.contains { $0.code == "retired-key" && $0.sequence == victim }, "\(report.findings)")
    }

    @Test func onlyTheCurrentOrHandedOverKeyMayOpenTheStore() async throws {
        let (path, keys) = try await Self.rotatedStore()
        let config = StoreConfiguration(dataDirectory: path, nodeName: "cp-1")
        #expect { _ = try AuditStore(configuration: config, signingKey: keys[1]) } throws: { error in
            (error as? AuditSealError)?.code == .keys
        }
        #expect { _ = try AuditStore(configuration: config, signingKey: try Ed25519PrivateKey.generate()) } throws: { error in
            (error as? AuditSealError)?.reason.contains("rotate-key") == true
        }
        let current = try AuditStore(configuration: config, signingKey: keys[2])
        try await current.close()
    }
}
