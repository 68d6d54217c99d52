import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

@Suite struct CryptoWrapperTests {
    @Test func sha256MatchesFIPS180Vectors() {
        #expect(SHA256.digest(Array("abc".utf8)).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.digest([UInt8]()).hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let sha = SHA256()
        sha.begin()
        Array("ab".utf8).withUnsafeBytes { sha.update($0) }
        Array("c".utf8).withUnsafeBytes { sha.update($0) }
        #expect(sha.finish().hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func ed25519SignsRFC8032TestVector1() throws {
        let key = try Ed25519PrivateKey(seed: Hex.decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")!)
        #expect(Hex.encode(key.publicKey.rawRepresentation) == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        let signature = try key.signature(for: [UInt8]())
        #expect(Hex.encode(signature) == "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
        #expect(key.publicKey.isValidSignature(signature, for: [UInt8]()))
        var bad = signature
        bad[5] ^= 1
        #expect(!key.publicKey.isValidSignature(bad, for: [UInt8]()))
        #expect(!key.publicKey.isValidSignature(signature, for: [UInt8(1)]))
    }

    @Test func keyFilesInteroperateWithOpenSSLAndRefuseLooseModes() throws {
        let dir = TestSupport.temporaryDirectory()
        let path = dir + "/k"
        let key = try KeyFiles.generate(at: path)
        #expect(throws: AuditSealError.self) { _ = try KeyFiles.generate(at: path) }  // never overwrites
        let openssl = try TestSupport.run("/usr/bin/openssl", ["pkey", "-in", path, "-pubout"])
        #expect(openssl.status == 0)
        #expect(openssl.stdout == String(decoding: try FileIO.readAll(path: path + ".pub"), as: UTF8.self))
        #expect(try KeyFiles.loadPrivateKey(path: path).publicKey.keyID == key.publicKey.keyID)
        chmod(path, 0o640)
        #expect(throws: AuditSealError.self) { _ = try KeyFiles.loadPrivateKey(path: path) }
    }

    @Test func base64AndHexRoundTrip() {
        for n in 0..<40 {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
            #expect(Hex.decode(Hex.encode(bytes)) == bytes)
        }
        #expect(Base64.encode(Array("foobar".utf8)) == "Zm9vYmFy")
        #expect(Base64.encode(Array("fo".utf8)) == "Zm8=")
        #expect(Base64.decode("Zm9v!mFy") == nil)
        #expect(Hex.decode("abc") == nil)
    }

    @Test func gzipRoundTripsAndReadsConcatenatedMembersAndDetectsDamage() throws {
        let text = Array(String(repeating: "audit event line\n", count: 10_000).utf8)
        let gz = try GzipCompressor.gzip(text, level: 6)
        #expect(gz.count < text.count / 10)
        #expect(try GzipDecompressor.gunzip(gz) == text)
        #expect(try GzipDecompressor.gunzip(gz + gz) == text + text)
        #expect(throws: AuditSealError.self) { _ = try GzipDecompressor.gunzip(Array(gz.dropLast(10))) }
        var flipped = gz
        flipped[gz.count / 2] ^= 0xff
        #expect(throws: AuditSealError.self) { _ = try GzipDecompressor.gunzip(flipped) }
        // The system gunzip reads what we write.
        let dir = TestSupport.temporaryDirectory()
        try FileIO.writeNew(path: dir + "/x.gz", bytes: gz, mode: 0o644)
        let zcat = try TestSupport.run("/bin/gzip", ["-dc", dir + "/x.gz"])
        #expect(zcat.stdout == String(decoding: text, as: UTF8.self))
    }

    @Test func md5MatchesRFC1321Vectors() {
        #expect(Hex.encode(MD5.digest([UInt8]())) == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(Hex.encode(MD5.digest(Array("abc".utf8))) == "900150983cd24fb0d6963f7d28e17f72")
        #expect(Hex.encode(MD5.digest(Array("message digest".utf8))) == "f96b697d7cb7938d525a2f31aaf161d0")
    }

    @Test func crc32MatchesTheCheckValue() {
        #expect(Array("123456789".utf8).withUnsafeBytes { CRC32.checksum($0) } == 0xCBF43926)
    }
}
