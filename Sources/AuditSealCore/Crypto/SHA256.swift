import CAuditSealCrypto

/// A reusable SHA-256 hasher over libcrypto's EVP interface. Not thread-safe: one per thread.
///
/// Reusing one instance avoids allocating an EVP context per hash, which matters on the hot path
/// where every event costs a leaf hash, a chain hash and on average one Merkle node hash.
public final class SHA256 {
    private let context: OpaquePointer

    public init() {
        guard let context = auditseal_sha256_new() else {
            preconditionFailure("libcrypto could not allocate a SHA-256 context")
        }
        self.context = context
    }

    deinit { auditseal_sha256_free(context) }

    /// SHA-256 of the concatenation a || b || c.
    public func hash(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0), _ c: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)) -> SHA256Digest {
        var out = SHA256Digest.zero
        let ok = out.withUnsafeMutableBytes { o in
            auditseal_sha256_3(context, a.baseAddress, a.count, b.baseAddress, b.count, c.baseAddress, c.count,
                               o.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        precondition(ok == 1, "libcrypto SHA-256 failed")
        return out
    }

    /// SHA-256 of a byte collection.
    public func hash<Bytes: ContiguousBytes>(_ data: Bytes) -> SHA256Digest {
        data.withUnsafeBytes { hash($0) }
    }

    /// Begins a streaming hash.
    public func begin() {
        precondition(auditseal_sha256_init(context) == 1, "libcrypto SHA-256 init failed")
    }

    /// Feeds bytes to a streaming hash.
    public func update(_ data: UnsafeRawBufferPointer) {
        precondition(auditseal_sha256_update(context, data.baseAddress, data.count) == 1, "libcrypto SHA-256 update failed")
    }

    /// Ends a streaming hash.
    public func finish() -> SHA256Digest {
        var out = SHA256Digest.zero
        let ok = out.withUnsafeMutableBytes { auditseal_sha256_final(context, $0.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
        precondition(ok == 1, "libcrypto SHA-256 final failed")
        return out
    }

    /// One-shot convenience: SHA-256 of bytes with a fresh context.
    public static func digest<Bytes: ContiguousBytes>(_ data: Bytes) -> SHA256Digest {
        SHA256().hash(data)
    }
}

/// Types whose contiguous bytes can be read (arrays, slices, digests).
public protocol ContiguousBytes {
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension Array: ContiguousBytes where Element == UInt8 {}
extension ArraySlice: ContiguousBytes where Element == UInt8 {}
extension SHA256Digest: ContiguousBytes {}
extension UnsafeRawBufferPointer: ContiguousBytes {
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try body(self) }
}

/// HMAC-SHA256 (RFC 2104) through libcrypto, for request signing.
public enum HMACSHA256 {
    /// The 32-byte MAC of data under key.
    public static func mac(key: [UInt8], data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        let ok = key.withUnsafeBytes { k in
            data.withUnsafeBytes { d in
                out.withUnsafeMutableBufferPointer { auditseal_hmac_sha256(k.baseAddress, k.count, d.baseAddress, d.count, $0.baseAddress!) }
            }
        }
        precondition(ok == 1, "libcrypto HMAC-SHA256 failed")
        return out
    }
}

/// MD5 through libcrypto, only for S3's `Content-MD5` integrity header (never for integrity proofs).
public enum MD5 {
    /// The 16-byte digest of data.
    public static func digest(_ data: some ContiguousBytes) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 16)
        let ok = data.withUnsafeBytes { d in
            out.withUnsafeMutableBufferPointer { auditseal_md5(d.baseAddress, d.count, $0.baseAddress!) }
        }
        precondition(ok == 1, "libcrypto MD5 failed")
        return out
    }
}

/// Cryptographically secure random bytes from libcrypto.
public enum SecureRandom {
    /// count random bytes.
    public static func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let ok = out.withUnsafeMutableBytes { auditseal_random_bytes($0.baseAddress, count) }
        precondition(ok == 1, "libcrypto RAND_bytes failed")
        return out
    }
}
