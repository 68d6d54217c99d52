/// The receiver's last scheduled verification (`DATA_DIR/verify/last.json`), shown by `auditseal status`.
public struct LastVerification: Codable, Sendable {
    public var at: String
    /// The first segment sequence read (1: the whole store).
    public var fromSegment: Int
    public var intact: Bool
    public var treeSize: UInt64
    public var errors: Int
    public var firstError: String?

    public init(at: String, fromSegment: Int, intact: Bool, treeSize: UInt64, errors: Int, firstError: String?) {
        self.at = at
        self.fromSegment = fromSegment
        self.intact = intact
        self.treeSize = treeSize
        self.errors = errors
        self.firstError = firstError
    }
}
