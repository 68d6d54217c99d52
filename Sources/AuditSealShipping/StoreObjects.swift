import AuditSealCore
/// One store's objects in a bucket (`PREFIX/NODE/CHAIN-ID/`), key by key: the original version
/// (the oldest that is not a delete marker: what auditseal wrote and locked) and whatever came
/// after it. Shipping writes each key exactly once, so anything after the original was written by
/// someone else.
public struct StoreObject: Sendable {
    /// Path inside the store: `chain.json`, `keys/NAME` or `segments/NAME`.
    public var relative: String
    public var key: String
    public var original: ObjectVersion
    /// Versions written over the original, newest first.
    public var later: [ObjectVersion]
    /// The newest version is a delete marker (the original is still there, locked).
    public var hiddenByDeleteMarker: Bool

    /// Groups a listing of versions (S3 lists a key's versions newest first) into the store's
    /// objects; keys of nested stores or other files are left out.
    public static func group(_ versions: [ObjectVersion], storePrefix: String) -> [StoreObject] {
        var out = [StoreObject]()
        var byKey = [String: [ObjectVersion]]()
        for v in versions { byKey[v.key, default: []].append(v) }
        for key in byKey.keys.sorted() where key.hasPrefix(storePrefix) {
            let relative = String(key.dropFirst(storePrefix.count))
            let parts = relative.split(separator: "/", omittingEmptySubsequences: false)
            guard relative == "chain.json" || parts.count == 2 && (parts[0] == "keys" || parts[0] == "segments" || parts[0] == "reconcile") else { continue }
            let group = byKey[key]!
            let kept = group.filter { !$0.isDeleteMarker }
            guard let original = kept.last else { continue }
            out.append(StoreObject(relative: relative, key: key, original: original, later: Array(kept.dropLast()),
                                   hiddenByDeleteMarker: group.first(where: \.isLatest)?.isDeleteMarker == true))
        }
        return out
    }

    /// The version to read: nil for "null" (an unversioned object).
    public var originalVersionID: String? { original.versionID == "null" ? nil : original.versionID }

    /// Findings about versions written after the original: (code, message).
    public var versionFindings: [(code: Finding.Code, message: String)] {
        var out = [(code: Finding.Code, message: String)]()
        if hiddenByDeleteMarker {
            out.append((.objectDeleted, "a delete marker hides this sealed object; the original version \(original.versionID) is what was verified and stays locked"))
        }
        if !later.isEmpty {
            out.append((.objectOverwritten, "\(later.count) later version(s) of a sealed object (written once by auditseal): \(later.map(\.versionID).joined(separator: ", ")); the original version \(original.versionID) is what was verified"))
        }
        return out
    }
}

/// s3://BUCKET/PREFIX, as the commands take a bucket (`verify`, `cat`, `status`, `prove`, `watch`).
public struct BucketURL: Sendable, Equatable {
    public var bucket: String
    /// Without a leading slash; may be empty.
    public var prefix: String

    public init?(_ url: String) {
        guard url.hasPrefix("s3://") else { return nil }
        let rest = url.dropFirst("s3://".count)
        bucket = String(rest.prefix { $0 != "/" })
        prefix = String(rest.dropFirst(bucket.count).drop { $0 == "/" })
        guard !bucket.isEmpty else { return nil }
    }
}

extension StoreObject {
    /// The one rule for what a store in a bucket is: each folder under `prefix` holding a
    /// chain.json or manifests under its segments/ (a store whose chain.json was deleted is still
    /// found, and verifying it says what is missing). Store prefixes end in "/", sorted.
    public static func storePrefixes(keys: some Sequence<String>, under prefix: String) -> [String] {
        let normalized = prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/"
        var stores = Set<String>()
        for key in keys where key.hasPrefix(normalized) {
            // FOLDER/chain.json or FOLDER/segments/NAME.manifest.json, FOLDER possibly the prefix itself.
            let folder = key.split(separator: "/", omittingEmptySubsequences: false)
            if folder.last == "chain.json" {
                stores.insert(String(key.dropLast("chain.json".count)))
            } else if folder.count >= 2, folder[folder.count - 2] == "segments", folder.last!.hasSuffix(".manifest.json") {
                stores.insert(String(key.dropLast(folder.last!.count + "segments/".count)))
            }
        }
        return stores.sorted()
    }

    /// The stores of one node (PREFIX/NODE/CHAIN-ID/), or all of them when `node` is nil.
    public static func stores(_ prefixes: [String], ofNode node: String?) -> [String] {
        guard let node else { return prefixes }
        return prefixes.filter { $0.contains("/\(node)/") || $0.hasPrefix("\(node)/") }
    }
}
