@testable import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// The segment pipeline keeps an empty spare ready, and a cut turns that very file (same inode)
/// into the new write-ahead segment, then prepares the next spare.
struct SegmentPipelineTests {
    static func inode(_ path: String) -> UInt64? {
        var st = stat()
        return stat(path, &st) == 0 ? UInt64(st.st_ino) : nil
    }

    @Test func aCutRenamesTheSpareIntoTheSegmentAndMakesTheNext() throws {
        let layout = StoreLayout(root: TestSupport.temporaryDirectory("pipeline"))
        try FileIO.makeDirectories(layout.walDirectory)
        let pipeline = SegmentPipeline(layout: layout)
        #expect(pipeline.hasSpare)
        let sparePath = layout.walDirectory + "/" + SegmentPipeline.spareName
        let spareInode = try #require(Self.inode(sparePath))

        let chainID = [UInt8](repeating: 7, count: 16)
        let state = ChainState(chainID: chainID, using: SHA256())
        let segment = try pipeline.next(state: state, chainID: Hex.encode(chainID))
        #expect(segment.path == layout.walPath(firstIndex: 0))
        #expect(Self.inode(segment.path) == spareInode, "the segment is the spare, renamed")
        let outcome = try WriteAheadReader(path: segment.path).read { _, _, _ in }
        #expect(outcome.header.firstIndex == 0 && outcome.recordCount == 0)

        #expect(pipeline.hasSpare)
        #expect(Self.inode(sparePath) != spareInode)
        pipeline.removeSpare()
        #expect(!pipeline.hasSpare && !FileIO.exists(sparePath))
    }
}
