import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing
@testable import AuditSealShipping

/// The parts of shipping that need no server: S3's XML answers, credentials files, request
/// addressing, the ledger's crash behaviour.
@Suite struct ShippingUnitTests {
    /// One parser of s3://BUCKET/PREFIX and one rule for a store in a bucket, for every command and the watcher.
    @Test func bucketURLsAndTheRuleForAStoreInABucket() {
        #expect(BucketURL("s3://audit/prod/cp-1") == BucketURL("s3://audit//prod/cp-1"))
        #expect(BucketURL("s3://audit/prod/cp-1")?.bucket == "audit" && BucketURL("s3://audit/prod/cp-1")?.prefix == "prod/cp-1")
        #expect(BucketURL("s3://audit")?.prefix == "" && BucketURL("s3://") == nil && BucketURL("/var/lib/auditseal") == nil)
        let keys = ["prod/cp-1/c1/chain.json", "prod/cp-1/c1/segments/000001.manifest.json", "prod/cp-1/c1/segments/000001.jsonl.gz",
                    // chain.json deleted: still a store, so that verifying it says what is missing
                    "prod/cp-2/c2/segments/000003.manifest.json", "prod/cp-2/c2/segments/000003.jsonl.gz",
                    "prod/cp-10/c3/chain.json", "other/cp-9/c9/chain.json", "prod/README",
                    // neither: segment data alone, a name that only ends like chain.json
                    "prod/cp-3/c4/segments/000001.jsonl.gz", "prod/cp-3/notchain.json"]
        let stores = StoreObject.storePrefixes(keys: keys, under: "prod")
        #expect(stores == ["prod/cp-1/c1/", "prod/cp-10/c3/", "prod/cp-2/c2/"])
        #expect(StoreObject.stores(stores, ofNode: "cp-1") == ["prod/cp-1/c1/"])
        #expect(StoreObject.stores(stores, ofNode: nil) == stores)
        #expect(StoreObject.storePrefixes(keys: ["chain.json", "segments/000001.manifest.json"], under: "") == [""])
    }

    @Test func readsListObjectsV2AndVersionsAnswers() {
        // Shapes from the S3 API reference (ListObjectsV2, ListObjectVersions).
        let list: Substring = """
            <?xml version="1.0" encoding="UTF-8"?>
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>p/</Prefix>
            <KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>
            <Contents><Key>p/a&amp;b.json</Key><ETag>&quot;abc&quot;</ETag><Size>3</Size></Contents>
            <Contents><Key>p/c</Key><Size>0</Size></Contents>
            <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken></ListBucketResult>
            """
        #expect(S3XML.blocks("Contents", in: list).compactMap { S3XML.value("Key", in: $0) } == ["p/a&b.json", "p/c"])
        #expect(S3XML.value("IsTruncated", in: list) == "true")
        #expect(S3XML.value("NextContinuationToken", in: list) == "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")
        #expect(S3XML.value("Missing", in: list) == nil)
        let versions: Substring = """
            <ListVersionsResult><Version><Key>k</Key><VersionId>v2</VersionId><IsLatest>true</IsLatest></Version>
            <Version><Key>k</Key><VersionId>v1</VersionId><IsLatest>false</IsLatest></Version>
            <DeleteMarker><Key>j</Key><VersionId>d1</VersionId><IsLatest>true</IsLatest></DeleteMarker><Empty/></ListVersionsResult>
            """
        #expect(S3XML.blocks("Version", in: versions).compactMap { S3XML.value("VersionId", in: $0) } == ["v2", "v1"])
        #expect(S3XML.blocks("VersionId", in: versions).count == 3)  // <VersionId> is not a <Version>
        #expect(S3XML.blocks("Empty", in: versions) == [""])
    }

    @Test func credentialsComeFromTheEnvironmentThenTheSharedFile() throws {
        let fromEnv = try SigV4Signer.Credentials.resolve(environment: ["AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK", "AWS_SESSION_TOKEN": "T"])
        #expect(fromEnv.accessKeyID == "AK" && fromEnv.secretAccessKey == "SK" && fromEnv.sessionToken == "T")
        let dir = TestSupport.temporaryDirectory()
        let file = dir + "/credentials"
        try FileIO.writeAtomically(path: file, bytes: Array("""
            [default]
            aws_access_key_id = DEFAULTKEY
            aws_secret_access_key = defaultsecret
            # a comment
            [auditor]
            aws_access_key_id=READONLY
            aws_secret_access_key=readonlysecret
            aws_session_token=tok
            """.utf8))
        let profile = try SigV4Signer.Credentials.resolve(environment: ["AWS_SHARED_CREDENTIALS_FILE": file, "AWS_PROFILE": "auditor"])
        #expect(profile.accessKeyID == "READONLY" && profile.secretAccessKey == "readonlysecret" && profile.sessionToken == "tok")
        #expect(try SigV4Signer.Credentials.resolve(file: file, environment: [:]).accessKeyID == "DEFAULTKEY")
        #expect(throws: S3Error.self) { try SigV4Signer.Credentials.resolve(environment: ["HOME": dir]) }
    }

    @Test func pathAndVirtualHostAddressing() throws {
        let path = try S3Endpoint(url: "http://127.0.0.1:7480", bucket: "audit", addressing: .path)
        #expect(path.hostHeader == "127.0.0.1:7480")
        #expect(path.path(forKey: "prod/cp 1/segments/x.jsonl.gz") == "/audit/prod/cp%201/segments/x.jsonl.gz")
        let virtual = try S3Endpoint(url: "https://s3.eu-west-1.amazonaws.com", bucket: "audit", region: "eu-west-1", addressing: .virtualHost)
        #expect(virtual.hostHeader == "audit.s3.eu-west-1.amazonaws.com")
        #expect(virtual.path(forKey: "a/b") == "/a/b")
        #expect(throws: S3Error.self) { try S3Endpoint(url: "ftp://x", bucket: "audit") }
        #expect(throws: S3Error.self) { try S3Endpoint(url: "https://x", bucket: "Bad_Bucket") }
    }

    /// Opens the ledger just released by this test, asking again for a while if it is still
    /// locked. This failed once in a full local run ("ledger is locked") right after the test's own
    /// close. The likely cause, not proven: other tests start processes meanwhile, and a child holds
    /// a copy of every descriptor (the ledger's too, with its lock) from its fork until its exec
    /// closes it.
    static func openOnceReleased(_ dir: String) throws -> ShippingLedger {
        let deadline = Date().addingTimeInterval(30)
        while true {
            do {
                return try ShippingLedger(dataDirectory: dir)
            } catch let error as AuditSealError where "\(error)".contains("is locked") && Date() < deadline {
                usleep(10_000)
            }
        }
    }

    @Test func aLedgerLineCutByACrashIsDroppedAndTheRestKeptAndOneShipperHoldsIt() throws {
        let dir = TestSupport.temporaryDirectory()
        do {
            let ledger = try ShippingLedger(dataDirectory: dir)
            try ledger.record(.init(object: "b/p/n/c/segments/000000000001.jsonl.gz", sha256: "aa", versionID: "v1", retainUntil: "2027-01-01T00:00:00Z"))
            ledger.close()
        }
        // A crash in the middle of the second append.
        let fd = open(dir + "/shipping/ledger", O_WRONLY | O_APPEND)
        _ = "b/p/n/c/segments/000000000002.jsonl.gz\tbb".withCString { write(fd, $0, strlen($0)) }
        close(fd)
        do {
            let reopened = try Self.openOnceReleased(dir)
            #expect(reopened.contains("b/p/n/c/segments/000000000001.jsonl.gz"))
            #expect(!reopened.contains("b/p/n/c/segments/000000000001.leaves"))
            #expect(!reopened.contains("b/p/n/c/segments/000000000002.jsonl.gz"))
            #expect(!reopened.contains("b/p/n/c/chain.json"))
            try reopened.record(.init(object: "b/p/n/c/segments/000000000002.jsonl.gz", sha256: "bb", versionID: "-", retainUntil: "2027-01-01T00:00:00Z"))
            // While one shipper holds the ledger, a second is refused.
            #expect(throws: AuditSealError.self) { try ShippingLedger(dataDirectory: dir) }
            reopened.close()
        }
        let third = try Self.openOnceReleased(dir)
        #expect(third.contains("b/p/n/c/segments/000000000002.jsonl.gz"))
        try third.record(.init(object: "b/p/n/c/chain.json", sha256: "cc", versionID: "-", retainUntil: "2027-01-01T00:00:00Z"))
        #expect(third.contains("b/p/n/c/chain.json") && !third.contains("other/p/n/c/chain.json"))
        #expect(ShippingLedger.shippedSegmentFiles(dataDirectory: dir) == ["segments/000000000001.jsonl.gz", "segments/000000000002.jsonl.gz"])
        third.close()
        // A line cut short by a crash (no LF) records nothing (FORMAT.md section 8).
        let cut = open(dir + "/shipping/ledger", O_WRONLY | O_APPEND)
        _ = "b/p/n/c/segments/000000000003.jsonl.gz\tdd".withCString { write(cut, $0, strlen($0)) }
        close(cut)
        #expect(ShippedSegments.hashes(dataDirectory: dir)["segments/000000000002.jsonl.gz"] == "bb")
        #expect(ShippedSegments.hashes(dataDirectory: dir)["segments/000000000003.jsonl.gz"] == nil)
    }
}
