import FoundationEssentials

/// Which key signs the store's manifests: the one the latest manifest names (it signed it, or was
/// handed over to by it), each public key kept in `keys/` for verifiers (docs/FORMAT.md §7).
final class SigningKeys: Sendable {
    private let current: Locked<String>

    /// Checks that `key` may go on signing the store whose latest manifest is `tip`, and keeps its public key.
    init(key: Ed25519PrivateKey, layout: StoreLayout, tip: ManifestTip) throws {
        try Self.check(key.publicKey, layout: layout, tip: tip)
        try Self.remember(key.publicKey, layout: layout)
        current = Locked(key.publicKey.keyID)
    }

    /// The key that signs manifests now.
    var currentKeyID: String { current.withLock { $0 } }

    /// After a handover to the key with this ID is durable.
    func handedOver(to keyID: String) { current.withLock { $0 = keyID } }

    /// Only the key that signed the latest manifest, or the one it handed over to, may go on
    /// signing: any other would break the chain of keys a verifier follows from the first.
    private static func check(_ key: Ed25519PublicKey, layout: StoreLayout, tip: ManifestTip) throws {
        guard tip.sequence > 0 else { return }
        let latest = try layout.manifest(tip.sequence)
        let expected = latest.nextKeyID ?? latest.keyID
        guard key.keyID == expected else {
            // Was it this store's key once, handed over since? (Only read on this error path.)
            for sequence in try layout.manifestSequences().reversed() {
                let manifest = try layout.manifest(sequence)
                if manifest.keyID == key.keyID, manifest.nextKeyID != nil || sequence < tip.sequence {
                    throw AuditSealError.keys("the signing key \(key.keyID.prefix(16))… was retired by a handover after manifest \(sequence); the store is now signed by key \(expected.prefix(16))…: configure that key")
                }
            }
            throw AuditSealError.keys("\(layout.root) is signed by key \(expected.prefix(16))…, not by the configured key \(key.keyID.prefix(16))…; to change keys, hand over with `auditseal rotate-key` while the old key is still configured")
        }
    }

    /// Writes `keys/ID.pub` once (read-only).
    static func remember(_ key: Ed25519PublicKey, layout: StoreLayout) throws {
        let path = layout.keysDirectory + "/" + key.keyID + ".pub"
        if !FileIO.exists(path) {
            try FileIO.writeAtomically(path: path, bytes: Array(KeyFiles.publicKeyPEM(key).utf8), mode: 0o444)
        }
    }
}
