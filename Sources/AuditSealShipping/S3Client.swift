import AsyncHTTPClient
import AuditSealCore
import FoundationEssentials
import NIOCore
import NIOHTTP1
import NIOSSL

/// Where the bucket is and how to reach it.
public struct S3Endpoint: Sendable {
    /// How the bucket appears in request URLs.
    public enum Addressing: String, Sendable {
        /// `https://host/bucket/key`: works everywhere, the default for custom endpoints.
        case path
        /// `https://bucket.host/key`: AWS's preferred form.
        case virtualHost = "virtual"
    }

    public var scheme: String
    public var host: String
    public var port: Int?
    public var bucket: String
    public var region: String
    public var addressing: Addressing
    /// A PEM CA bundle trusted in addition to the system's (for private endpoints).
    public var caFile: String?

    /// Parses an endpoint URL like `https://s3.eu-west-1.amazonaws.com` or `http://127.0.0.1:7480`.
    public init(url: String, bucket: String, region: String = "us-east-1", addressing: Addressing = .path, caFile: String? = nil) throws {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty else {
            throw S3Error.configuration("s3Endpoint: \(url) is not an http(s)://HOST[:PORT] URL")
        }
        guard !bucket.isEmpty, bucket.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "-" || $0 == "." }) else {
            throw S3Error.configuration("s3Bucket: \(bucket.isEmpty ? "missing" : "\(bucket) is not a valid bucket name")")
        }
        self.scheme = scheme
        self.host = host
        self.port = components.port
        self.bucket = bucket
        self.region = region
        self.addressing = addressing
        self.caFile = caFile
    }

    /// The Host header value for requests to this bucket.
    var hostHeader: String {
        let base = addressing == .virtualHost ? "\(bucket).\(host)" : host
        guard let port, !(scheme == "http" && port == 80) && !(scheme == "https" && port == 443) else { return base }
        return "\(base):\(port)"
    }

    /// The URI-encoded absolute path for a key ("" for the bucket itself).
    func path(forKey key: String) -> String {
        let encodedKey = SigV4Signer.encode(key, keepSlash: true)
        switch addressing {
        case .path: return "/" + bucket + (key.isEmpty ? "" : "/" + encodedKey)
        case .virtualHost: return "/" + encodedKey
        }
    }
}

/// What went wrong talking to S3.
public enum S3Error: Error, CustomStringConvertible, Sendable {
    /// The server answered with an error status (and, usually, an XML error document).
    case server(status: Int, code: String, message: String, operation: String)
    /// The configuration cannot work (bad URL, missing credentials).
    case configuration(String)
    /// The answer could not be understood.
    case malformed(String)

    public var description: String {
        switch self {
        case let .server(status, code, message, operation):
            return "\(operation): HTTP \(status) \(code)\(message.isEmpty ? "" : ": " + message)"
        case let .configuration(text): return text
        case let .malformed(text): return "unexpected S3 answer: \(text)"
        }
    }

    /// The S3 error code, e.g. "AccessDenied", "NoSuchKey".
    public var code: String? {
        if case let .server(_, code, _, _) = self { return code }
        return nil
    }
}

/// Object Lock retention on an object.
public struct ObjectRetention: Sendable, Equatable {
    /// COMPLIANCE or GOVERNANCE.
    public var mode: String
    public var retainUntil: Date

    public init(mode: String, retainUntil: Date) {
        self.mode = mode
        self.retainUntil = retainUntil
    }
}

/// What a HEAD (or GET) says about an object.
public struct ObjectHead: Sendable {
    public var size: Int
    public var eTag: String
    public var versionID: String?
    /// Lower-cased user metadata names without the `x-amz-meta-` prefix.
    public var metadata: [String: String]
    public var retention: ObjectRetention?
}

/// One entry of ListObjectVersions.
public struct ObjectVersion: Sendable {
    public var key: String
    public var versionID: String
    public var isLatest: Bool
    public var isDeleteMarker: Bool
    public var eTag: String
    /// When the bucket stored this version.
    public var lastModified: Date? = nil
}

/// A small S3 client over async-http-client: the operations auditseal needs, signed with SigV4.
public final class S3Client: Sendable {
    public let endpoint: S3Endpoint
    let signer: SigV4Signer
    let http: HTTPClient
    let timeout: TimeAmount

    /// Creates a client with its own HTTP client; call `shutdown()` when done.
    public init(endpoint: S3Endpoint, credentials: SigV4Signer.Credentials, requestTimeoutSeconds: Int64 = 120) throws {
        self.endpoint = endpoint
        self.signer = SigV4Signer(credentials: credentials, region: endpoint.region)
        var tls = TLSConfiguration.makeClientConfiguration()
        if let ca = endpoint.caFile {
            tls.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMFile(ca))]
        }
        let configuration = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(10), read: .seconds(requestTimeoutSeconds)))
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.timeout = .seconds(requestTimeoutSeconds)
    }

    public func shutdown() async throws { try await http.shutdown() }

    /// An HTTP answer: status, headers and the whole body (S3 answers here are small, or a segment).
    struct Answer {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]
        var text: Substring { Substring(String(decoding: body, as: UTF8.self)) }
    }

    /// Sends one signed request; the body's SHA-256 is signed (no UNSIGNED-PAYLOAD).
    func send(_ method: HTTPMethod, key: String = "", query: [(String, String)] = [], headers extra: [String: String] = [:],
              body: [UInt8] = [], maxResponseBytes: Int = 1 << 30) async throws -> Answer {
        let path = endpoint.path(forKey: key)
        var headers = extra
        headers["host"] = endpoint.hostHeader
        let payloadHash = SHA256.digest(body).hex
        let signed = signer.sign(method: method.rawValue, path: path, query: query, headers: headers, payloadSHA256: payloadHash, date: Date())
        var queryText = query.map { SigV4Signer.encode($0.0) + "=" + SigV4Signer.encode($0.1) }.joined(separator: "&")
        if !queryText.isEmpty { queryText = "?" + queryText }
        let base = endpoint.addressing == .virtualHost ? "\(endpoint.bucket).\(endpoint.host)" : endpoint.host
        let url = "\(endpoint.scheme)://\(base)\(endpoint.port.map { ":\($0)" } ?? "")\(path)\(queryText)"
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers where name != "host" { request.headers.add(name: name, value: value) }
        for (name, value) in signed { request.headers.add(name: name, value: value) }
        if !body.isEmpty || method == .PUT { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await http.execute(request, timeout: timeout)
        let bytes = method == .HEAD ? ByteBuffer() : try await response.body.collect(upTo: maxResponseBytes)
        return Answer(status: Int(response.status.code), headers: response.headers, body: Array(bytes.readableBytesView))
    }

    /// Throws the answer's error unless its status is 2xx.
    func check(_ answer: Answer, _ operation: String) throws {
        guard !(200..<300).contains(answer.status) else { return }
        let code = S3XML.value("Code", in: answer.text) ?? (answer.status == 404 ? "NotFound" : "HTTP\(answer.status)")
        let message = S3XML.value("Message", in: answer.text) ?? ""
        throw S3Error.server(status: answer.status, code: code, message: message, operation: operation)
    }

    /// PUTs an object with Content-MD5 (Object Lock requires an integrity header), our own SHA-256
    /// as metadata, and Object Lock retention when given. Returns the new version ID, if any.
    @discardableResult
    public func putObject(key: String, body: [UInt8], retention: ObjectRetention? = nil,
                          metadata: [String: String] = [:], contentType: String = "application/octet-stream") async throws -> String? {
        var headers = ["content-md5": Base64.encode(MD5.digest(body)), "content-type": contentType]
        for (name, value) in metadata { headers["x-amz-meta-" + name.lowercased()] = value }
        if let retention {
            headers["x-amz-object-lock-mode"] = retention.mode
            headers["x-amz-object-lock-retain-until-date"] = Self.isoDate(retention.retainUntil)
        }
        let answer = try await send(.PUT, key: key, headers: headers, body: body)
        try check(answer, "PUT \(key)")
        return answer.headers.first(name: "x-amz-version-id")
    }

    /// HEADs an object (or one version of it); nil when it does not exist.
    public func headObject(key: String, versionID: String? = nil) async throws -> ObjectHead? {
        let answer = try await send(.HEAD, key: key, query: versionID.map { [("versionId", $0)] } ?? [])
        if answer.status == 404 { return nil }
        try check(answer, "HEAD \(key)")
        return Self.head(answer.headers, size: Int(answer.headers.first(name: "content-length") ?? "") ?? 0)
    }

    /// GETs an object (or one version); nil when it does not exist.
    public func getObject(key: String, versionID: String? = nil) async throws -> (bytes: [UInt8], head: ObjectHead)? {
        let answer = try await send(.GET, key: key, query: versionID.map { [("versionId", $0)] } ?? [])
        if answer.status == 404 { return nil }
        try check(answer, "GET \(key)")
        return (answer.body, Self.head(answer.headers, size: answer.body.count))
    }

    /// Every key under a prefix (ListObjectsV2, all pages), sorted.
    public func listKeys(prefix: String) async throws -> [String] {
        var keys = [String]()
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("prefix", prefix), ("max-keys", "1000")]
            if let token { query.append(("continuation-token", token)) }
            let answer = try await send(.GET, query: query)
            try check(answer, "LIST \(prefix)")
            for contents in S3XML.blocks("Contents", in: answer.text) {
                if let key = S3XML.value("Key", in: contents) { keys.append(key) }
            }
            token = S3XML.value("IsTruncated", in: answer.text) == "true" ? S3XML.value("NextContinuationToken", in: answer.text) : nil
        } while token != nil
        return keys.sorted()
    }

    /// Every version and delete marker under a prefix (ListObjectVersions, all pages).
    public func listVersions(prefix: String) async throws -> [ObjectVersion] {
        var out = [ObjectVersion]()
        var keyMarker: String?, versionMarker: String?
        repeat {
            var query = [("versions", ""), ("prefix", prefix), ("max-keys", "1000")]
            if let keyMarker { query.append(("key-marker", keyMarker)) }
            if let versionMarker { query.append(("version-id-marker", versionMarker)) }
            let answer = try await send(.GET, query: query)
            try check(answer, "LIST VERSIONS \(prefix)")
            for (element, isMarker) in [("Version", false), ("DeleteMarker", true)] {
                for block in S3XML.blocks(element, in: answer.text) {
                    guard let key = S3XML.value("Key", in: block) else { continue }
                    out.append(ObjectVersion(key: key, versionID: S3XML.value("VersionId", in: block) ?? "null",
                                             isLatest: S3XML.value("IsLatest", in: block) == "true", isDeleteMarker: isMarker,
                                             eTag: Self.unquote(S3XML.value("ETag", in: block) ?? ""),
                                             lastModified: S3XML.value("LastModified", in: block).flatMap(Timestamp.parse)))
                }
            }
            if S3XML.value("IsTruncated", in: answer.text) == "true" {
                keyMarker = S3XML.value("NextKeyMarker", in: answer.text)
                versionMarker = S3XML.value("NextVersionIdMarker", in: answer.text)
            } else {
                keyMarker = nil
            }
        } while keyMarker != nil
        return out
    }

    /// The bucket's Object Lock state: nil when Object Lock is not enabled on it.
    public func objectLockConfiguration() async throws -> (enabled: Bool, defaultMode: String?)? {
        let answer = try await send(.GET, query: [("object-lock", "")])
        if answer.status == 404, S3XML.value("Code", in: answer.text) == "ObjectLockConfigurationNotFoundError" { return nil }
        try check(answer, "GET object-lock")
        let enabled = S3XML.value("ObjectLockEnabled", in: answer.text) == "Enabled"
        return enabled ? (true, S3XML.value("Mode", in: answer.text)) : nil
    }

    /// Deletes an object or one version of it (tests use this to show that a lock holds).
    public func deleteObject(key: String, versionID: String? = nil) async throws {
        let answer = try await send(.DELETE, key: key, query: versionID.map { [("versionId", $0)] } ?? [])
        try check(answer, "DELETE \(key)")
    }

    /// Creates the bucket, with Object Lock (which also turns versioning on) when asked.
    public func createBucket(objectLock: Bool) async throws {
        let answer = try await send(.PUT, headers: objectLock ? ["x-amz-bucket-object-lock-enabled": "true"] : [:])
        try check(answer, "CREATE BUCKET \(endpoint.bucket)")
    }

    static func head(_ headers: HTTPHeaders, size: Int) -> ObjectHead {
        var metadata = [String: String]()
        for (name, value) in headers where name.lowercased().hasPrefix("x-amz-meta-") {
            metadata[String(name.lowercased().dropFirst("x-amz-meta-".count))] = value
        }
        var retention: ObjectRetention?
        if let mode = headers.first(name: "x-amz-object-lock-mode"),
           let until = headers.first(name: "x-amz-object-lock-retain-until-date").flatMap(Self.parseISODate) {
            retention = ObjectRetention(mode: mode, retainUntil: until)
        }
        return ObjectHead(size: size, eTag: unquote(headers.first(name: "etag") ?? ""), versionID: headers.first(name: "x-amz-version-id"),
                          metadata: metadata, retention: retention)
    }

    static func unquote(_ text: String) -> String { text.trimmed(where: { $0 == "\"" }) }

    /// `2027-01-02T03:04:05Z` (S3 accepts ISO 8601 with or without fractional seconds).
    public static func isoDate(_ date: Date) -> String {
        Timestamp.formatWholeSeconds(date)
    }

    static func parseISODate(_ text: String) -> Date? {
        Timestamp.parse(text)
    }
}

extension S3Client {
    /// Sets (or extends) an object version's retention (PutObjectRetention).
    public func putObjectRetention(key: String, versionID: String?, retention: ObjectRetention) async throws {
        let body = Array("""
            <Retention xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Mode>\(retention.mode)</Mode>\
            <RetainUntilDate>\(Self.isoDate(retention.retainUntil))</RetainUntilDate></Retention>
            """.utf8)
        var query = [("retention", "")]
        if let versionID { query.append(("versionId", versionID)) }
        let answer = try await send(.PUT, key: key, query: query,
                                    headers: ["content-md5": Base64.encode(MD5.digest(body)), "content-type": "application/xml"], body: body)
        try check(answer, "PUT retention \(key)")
    }
}
