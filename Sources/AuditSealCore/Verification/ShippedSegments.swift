/// What the shipping ledger (DATA_DIR/shipping/ledger, one tab-separated line per object confirmed
/// in the bucket) says about segment files: the verifier's way to tell a deletion by local
/// retention from a loss. The ledger is unsigned: what it says proves nothing about the files
/// (FORMAT.md §8).
public enum ShippedSegments {
    /// The segment-folder files the ledger records as confirmed in the bucket ("segments/NAME"),
    /// with the SHA-256 (hex) each line states.
    public static func hashes(dataDirectory: String) -> [String: String] {
        guard let bytes = try? FileIO.readAll(path: dataDirectory + "/shipping/ledger") else { return [:] }
        var out = [String: String]()
        // Only lines ended by LF: a line cut short by a crash records nothing.
        for line in bytes.split(separator: 0x0a, omittingEmptySubsequences: false).dropLast() where !line.isEmpty {
            let fields = line.split(separator: 0x09, omittingEmptySubsequences: false)
            let object = String(decoding: fields[0], as: UTF8.self)
            if let range = object.ranges(of: "/segments/").last {
                out["segments/" + object[range.upperBound...]] = fields.count > 1 ? String(decoding: fields[1], as: UTF8.self) : ""
            }
        }
        return out
    }
}
