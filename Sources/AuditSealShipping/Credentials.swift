import FoundationEssentials

extension SigV4Signer.Credentials {
    /// Credentials the way AWS tools find them: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
    /// AWS_SESSION_TOKEN from the environment first; otherwise a shared-credentials file (`file`,
    /// else AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials) and its profile (AWS_PROFILE or
    /// "default"). Throws naming what was tried when none is found.
    public static func resolve(file: String? = nil, environment env: [String: String] = ProcessInfo.processInfo.environment) throws -> Self {
        if file == nil, let fromEnv = fromEnvironment(env) { return fromEnv }
        let path = file ?? env["AWS_SHARED_CREDENTIALS_FILE"] ?? ((env["HOME"] ?? FileManager.default.homeDirectoryForCurrentUser.path) + "/.aws/credentials")
        let profile = env["AWS_PROFILE"] ?? "default"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw S3Error.configuration("no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give a credentials file (\(path) is not readable)")
        }
        guard let found = parseSharedFile(text, profile: profile) else {
            throw S3Error.configuration("no S3 credentials for profile [\(profile)] in \(path) (needs aws_access_key_id and aws_secret_access_key)")
        }
        return found
    }

    /// Reads one profile of an AWS shared-credentials (INI) file.
    static func parseSharedFile(_ text: String, profile: String) -> Self? {
        var section = ""
        var values = [String: String]()
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmed
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                section = String(line.dropFirst().dropLast()).trimmed
                continue
            }
            guard section == profile, let eq = line.firstIndex(of: "=") else { continue }
            let name = line[..<eq].trimmed.lowercased()
            values[name] = line[line.index(after: eq)...].trimmed
        }
        guard let id = values["aws_access_key_id"], let secret = values["aws_secret_access_key"] else { return nil }
        return Self(accessKeyID: id, secretAccessKey: secret, sessionToken: values["aws_session_token"])
    }
}
