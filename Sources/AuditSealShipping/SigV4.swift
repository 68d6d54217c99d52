import AuditSealCore
import FoundationEssentials

/// AWS Signature Version 4 for S3 requests (header-based signing), as specified in the AWS
/// documentation "Authenticating Requests (AWS Signature Version 4)". Pure computation: the caller
/// sends the request with the headers this returns.
public struct SigV4Signer: Sendable {
    /// Access key, secret and optional session token.
    public struct Credentials: Sendable {
        public var accessKeyID: String
        public var secretAccessKey: String
        public var sessionToken: String?

        public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
            self.accessKeyID = accessKeyID
            self.secretAccessKey = secretAccessKey
            self.sessionToken = sessionToken
        }

        /// From AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
        public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) -> Credentials? {
            guard let id = env["AWS_ACCESS_KEY_ID"], let secret = env["AWS_SECRET_ACCESS_KEY"] else { return nil }
            return Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: env["AWS_SESSION_TOKEN"])
        }
    }

    public var credentials: Credentials
    public var region: String
    public var service: String

    public init(credentials: Credentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// The payload hash value for requests whose body is not signed.
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"

    /// Headers to add to the request (Authorization, x-amz-date, x-amz-content-sha256 and, with a
    /// session token, x-amz-security-token). `headers` must include `host`; `path` is the already
    /// URI-encoded absolute path; `query` the decoded query parameters.
    public func sign(method: String, path: String, query: [(String, String)] = [], headers: [String: String],
                     payloadSHA256: String, date: Date) -> [String: String] {
        let (amzDate, day) = Self.timestamps(date)
        var all = [String: String]()
        for (name, value) in headers { all[name.lowercased()] = Self.trimmed(value) }
        all["x-amz-date"] = amzDate
        all["x-amz-content-sha256"] = payloadSHA256
        if let token = credentials.sessionToken { all["x-amz-security-token"] = token }
        let names = all.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(all[$0]!)\n" }.joined()
        let signedHeaders = names.joined(separator: ";")
        let encoded: [(String, String)] = query.map { (Self.encode($0.0), Self.encode($0.1)) }
        let sorted = encoded.sorted { (a: (String, String), b: (String, String)) -> Bool in
            a.0 == b.0 ? a.1 < b.1 : a.0 < b.0
        }
        let canonicalQuery = sorted.map { (pair: (String, String)) -> String in pair.0 + "=" + pair.1 }.joined(separator: "&")
        let canonicalRequest = [method, path.isEmpty ? "/" : path, canonicalQuery, canonicalHeaders, signedHeaders, payloadSHA256]
            .joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, SHA256.digest(Array(canonicalRequest.utf8)).hex].joined(separator: "\n")
        let signature = Hex.encode(HMACSHA256.mac(key: signingKey(day: day), data: Array(stringToSign.utf8)))
        var out = ["x-amz-date": amzDate, "x-amz-content-sha256": payloadSHA256,
                   "Authorization": "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"]
        if let token = credentials.sessionToken { out["x-amz-security-token"] = token }
        return out
    }

    /// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, day), region), service), "aws4_request").
    func signingKey(day: String) -> [UInt8] {
        var key = Array(("AWS4" + credentials.secretAccessKey).utf8)
        for part in [day, region, service, "aws4_request"] { key = HMACSHA256.mac(key: key, data: Array(part.utf8)) }
        return key
    }

    /// ("20130524T000000Z", "20130524") for a date.
    static func timestamps(_ date: Date) -> (String, String) {
        let text = Timestamp.format(date)  // 2013-05-24T00:00:00.000000Z
        let digits = text.filter { $0.isNumber }
        let day = String(digits.prefix(8))
        let time = String(digits.dropFirst(8).prefix(6))
        return ("\(day)T\(time)Z", day)
    }

    /// Header values: leading/trailing spaces removed, inner runs of spaces folded to one.
    static func trimmed(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }

    /// URI-encodes everything but unreserved characters (A-Z a-z 0-9 - _ . ~); `keepSlash` for paths.
    public static func encode(_ text: String, keepSlash: Bool = false) -> String {
        var out = ""
        for byte in text.utf8 {
            let c = Character(Unicode.Scalar(byte))
            if c.isASCII && (c.isLetter || c.isNumber || "-_.~".contains(c)) || (keepSlash && c == "/") {
                out.append(c)
            } else {
                out += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return out
    }
}
