import AuditSealCore
import AuditSealShipping
import Foundation
import Testing

/// SigV4 against AWS's published examples: the S3 API reference's "Example: GET Object" and
/// "Example: PUT Object" (Authenticating Requests: Using the Authorization Header), and the
/// generic Signature Version 4 test suite's get-vanilla case.
@Suite struct SigV4Tests {
    static let s3Credentials = SigV4Signer.Credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    static let emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    static let may24 = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z

    @Test func s3GetObjectExampleSignsAsDocumented() {
        let signer = SigV4Signer(credentials: Self.s3Credentials, region: "us-east-1")
        let headers = signer.sign(method: "GET", path: "/test.txt",
                                  headers: ["Host": "examplebucket.s3.amazonaws.com", "Range": "bytes=0-9"],
                                  payloadSHA256: Self.emptySHA256, date: Self.may24)
        #expect(headers["Authorization"] == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(headers["x-amz-date"] == "20130524T000000Z")
    }

    @Test func s3PutObjectExampleSignsAsDocumented() {
        let signer = SigV4Signer(credentials: Self.s3Credentials, region: "us-east-1")
        let body = Array("Welcome to Amazon S3.".utf8)
        let headers = signer.sign(method: "PUT", path: "/test%24file.text",
                                  headers: ["Host": "examplebucket.s3.amazonaws.com", "Date": "Fri, 24 May 2013 00:00:00 GMT",
                                            "x-amz-storage-class": "REDUCED_REDUNDANCY"],
                                  payloadSHA256: SHA256.digest(body).hex, date: Self.may24)
        #expect(headers["Authorization"] == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test func s3ListObjectsExampleSignsItsQueryAsDocumented() {
        let signer = SigV4Signer(credentials: Self.s3Credentials, region: "us-east-1")
        let headers = signer.sign(method: "GET", path: "/", query: [("prefix", "J"), ("max-keys", "2")],
                                  headers: ["Host": "examplebucket.s3.amazonaws.com"],
                                  payloadSHA256: Self.emptySHA256, date: Self.may24)
        #expect(headers["Authorization"] == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    @Test func pathsAndQueriesAreEncodedAsSigV4Requires() {
        #expect(SigV4Signer.encode("a b/c$d~e", keepSlash: true) == "a%20b/c%24d~e")
        #expect(SigV4Signer.encode("a b/c") == "a%20b%2Fc")
        #expect(HMACSHA256.mac(key: Array("key".utf8), data: Array("The quick brown fox jumps over the lazy dog".utf8))
                == Hex.decode("f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8")!)
    }
}
