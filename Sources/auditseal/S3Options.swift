import ArgumentParser
import AuditSealServer
import AuditSealShipping

/// The S3 options shared by `serve`, `ship` and `verify s3://...`; names in brackets are the YAML fields.
struct S3Options: ParsableArguments {
    @Option(name: .customLong("s3-endpoint"), help: "S3 endpoint URL, e.g. https://s3.eu-west-1.amazonaws.com [s3Endpoint].")
    var endpoint: String?
    @Option(name: .customLong("s3-bucket"), help: "Bucket with Object Lock enabled [s3Bucket].")
    var bucket: String?
    @Option(name: .customLong("s3-prefix"), help: "Key prefix for this cluster; stores go under PREFIX/NODE/CHAIN-ID/ [s3Prefix]. Default auditseal.")
    var prefix: String?
    @Option(name: .customLong("s3-region"), help: "Signing region [s3Region]. Default us-east-1.")
    var region: String?
    @Option(name: .customLong("s3-addressing"), help: "path (https://host/bucket/key) or virtual (https://bucket.host/key) [s3Addressing]. Default path.")
    var addressing: String?
    @Option(name: .customLong("s3-retention-days"), help: "Object Lock retention from sealing, in days [s3RetentionDays]. Default 400. For verify: the minimum required.")
    var retentionDays: Int?
    @Option(name: .customLong("s3-lock-mode"), help: "COMPLIANCE or GOVERNANCE [s3LockMode]. Default COMPLIANCE. For verify: the mode required.")
    var lockMode: String?
    @Option(name: .customLong("s3-ca"), help: "Extra CA bundle (PEM) for the endpoint's certificate [s3CA].")
    var ca: String?
    @Option(name: .customLong("s3-credentials-file"), help: "AWS shared-credentials file [s3CredentialsFile]. Default: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, then ~/.aws/credentials (profile AWS_PROFILE or default).")
    var credentialsFile: String?
    @Option(name: .customLong("s3-concurrent-uploads"), help: "Uploads in flight at once; manifests follow their files, in order [s3ConcurrentUploads]. Default 6.")
    var concurrentUploads: Int?

    /// Copies the options given onto a configuration (flags win over the YAML file).
    func apply(to c: inout ServeConfiguration) {
        if let endpoint { c.s3Endpoint = endpoint }
        if let bucket { c.s3Bucket = bucket }
        if let prefix { c.s3Prefix = prefix }
        if let region { c.s3Region = region }
        if let addressing { c.s3Addressing = addressing }
        if let retentionDays { c.s3RetentionDays = retentionDays }
        if let lockMode { c.s3LockMode = lockMode }
        if let ca { c.s3CA = ca }
        if let credentialsFile { c.s3CredentialsFile = credentialsFile }
        if let concurrentUploads { c.s3ConcurrentUploads = concurrentUploads }
    }

    /// A client for BUCKET at --s3-endpoint (for verify and watch of s3://BUCKET/PREFIX).
    func client(bucket: String, for store: String) throws -> S3Client {
        guard let url = endpoint else { throw ValidationError("\(store) needs --s3-endpoint") }
        do {
            let s3Endpoint = try S3Endpoint(url: url, bucket: bucket, region: region ?? "us-east-1",
                                            addressing: S3Endpoint.Addressing(rawValue: addressing ?? "path") ?? .path, caFile: ca)
            return try S3Client(endpoint: s3Endpoint, credentials: try SigV4Signer.Credentials.resolve(file: credentialsFile))
        } catch let error as S3Error {
            throw ValidationError(error.description)
        }
    }
}
