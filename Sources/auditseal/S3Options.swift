import ArgumentParser
import AuditSealServer
import AuditSealShipping

/// The S3 options of `ship`, `verify`, `cat`, `status` and `prove` on s3://...: their help is serve's (`ServeSetting`); names in brackets are the YAML fields.
struct S3Options: ParsableArguments {
    @Option(name: .customLong(ServeSetting.named("s3Endpoint").flag!), help: ArgumentHelp(ServeSetting.named("s3Endpoint").fullHelp))
    var endpoint: String?
    @Option(name: .customLong(ServeSetting.named("s3Bucket").flag!), help: ArgumentHelp(ServeSetting.named("s3Bucket").fullHelp))
    var bucket: String?
    @Option(name: .customLong(ServeSetting.named("s3Prefix").flag!), help: ArgumentHelp(ServeSetting.named("s3Prefix").fullHelp))
    var prefix: String?
    @Option(name: .customLong(ServeSetting.named("s3Region").flag!), help: ArgumentHelp(ServeSetting.named("s3Region").fullHelp))
    var region: String?
    @Option(name: .customLong(ServeSetting.named("s3Addressing").flag!), help: ArgumentHelp(ServeSetting.named("s3Addressing").fullHelp))
    var addressing: String?
    @Option(name: .customLong(ServeSetting.named("s3RetentionDays").flag!), help: ArgumentHelp(ServeSetting.named("s3RetentionDays").fullHelp))
    var retentionDays: Int?
    @Option(name: .customLong(ServeSetting.named("s3LockMode").flag!), help: ArgumentHelp(ServeSetting.named("s3LockMode").fullHelp))
    var lockMode: String?
    @Option(name: .customLong(ServeSetting.named("s3CA").flag!), help: ArgumentHelp(ServeSetting.named("s3CA").fullHelp))
    var ca: String?
    @Option(name: .customLong(ServeSetting.named("s3CredentialsFile").flag!), help: ArgumentHelp(ServeSetting.named("s3CredentialsFile").fullHelp))
    var credentialsFile: String?
    @Option(name: .customLong(ServeSetting.named("s3ConcurrentUploads").flag!), help: ArgumentHelp(ServeSetting.named("s3ConcurrentUploads").fullHelp))
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
