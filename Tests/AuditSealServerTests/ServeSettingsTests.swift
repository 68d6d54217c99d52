import AuditSealServer
import AuditSealTestSupport
import Foundation
import Testing

/// The settings table drives the YAML decoder, the unknown-field check, the command line and the
/// help: a setting declared there is a field of the file and a flag, with its default shown.
@Suite(.tier(.unit)) struct ServeSettingsTests {
    /// A value other than the default, as YAML and as a flag's text.
    static func otherValue(_ key: String) -> String {
        switch key {
        case "listen", "opsListen": return "127.0.0.1:9"
        case "autoCreateKey": return "false"
        case "insecureHTTP": return "true"
        default:
            let numeric = ["Bytes", "Seconds", "Days", "Events", "Connections", "Level", "Window", "Uploads"].contains { key.hasSuffix($0) }
            return numeric ? "7" : "/x-\(key)"
        }
    }

    /// Each scalar setting, set alone in YAML and alone on the command line, changes the same
    /// field to the same value.
    @Test func everyScalarSettingIsAFieldAndAFlagOfTheSameValue() throws {
        let defaults = ServeConfiguration()
        for setting in ServeSetting.all where setting.kind != .structured {
            let value = Self.otherValue(setting.key)
            let yaml = setting.kind == .list ? "\(setting.key): [\"\(value)\"]\n" : "\(setting.key): \(value)\n"
            let fromFile = try ServeConfiguration.load(yaml: yaml, source: "test.yaml")
            var fromFlags = ServeConfiguration()
            try ServeSetting.apply(arguments: setting.kind == .flag ? ["--\(setting.flag!)=\(value)"] : ["--\(setting.flag!)", value], to: &fromFlags)
            #expect(fromFile != defaults, "\(setting.key) in YAML changed nothing")
            #expect(fromFile == fromFlags, "\(setting.key): the file and --\(setting.flag!) disagree")
        }
    }

    @Test func theCommandLineTakesBothFormsListsAndSwitches() throws {
        var c = ServeConfiguration()
        try ServeSetting.apply(arguments: ["--listen=127.0.0.1:0", "--segment-max-bytes", "1000", "--allowed-client-cn", "a",
                                           "--insecure-http", "--allowed-client-cn=b", "--s3-ca", "/ca.pem", "--auto-create-key=false"], to: &c)
        #expect(c.listen == "127.0.0.1:0" && c.segmentMaxBytes == 1000 && c.insecureHTTP && !c.autoCreateKey)
        #expect(c.allowedClientCNs == ["a", "b"] && c.s3CA == "/ca.pem")
        // A later value of a single-valued flag wins.
        try ServeSetting.apply(arguments: ["--gzip-level", "3", "--gzip-level", "6"], to: &c)
        #expect(c.gzipLevel == 6)
    }

    @Test(arguments: [
        (["--lisen", "x"], "unknown option --lisen"),
        (["--listen"], "--listen needs a value"),
        (["--max-body-bytes", "lots"], "--max-body-bytes: \"lots\" is not an integer"),
        (["stray"], "unexpected argument \"stray\""),
        (["--sinks", "x"], "unknown option --sinks"),
    ])
    func badArgumentsAreNamed(arguments: [String], message: String) {
        var c = ServeConfiguration()
        do {
            try ServeSetting.apply(arguments: arguments, to: &c)
            Issue.record("\(arguments) was accepted")
        } catch let error as ConfigurationError {
            #expect(error.description.hasPrefix(message), "\(error)")
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func flagsAreTheKeysInKebabCaseAndHelpShowsEachWithItsDefault() {
        #expect(ServeSetting.kebab("segmentMaxAgeSeconds") == "segment-max-age-seconds")
        #expect(ServeSetting.kebab("clientCA") == "client-ca")
        #expect(ServeSetting.kebab("s3CA") == "s3-ca")
        #expect(ServeSetting.kebab("insecureHTTP") == "insecure-http")
        #expect(ServeSetting.kebab("s3CredentialsFile") == "s3-credentials-file")
        let help = ServeSetting.helpText
        for setting in ServeSetting.all {
            if let flag = setting.flag { #expect(help.contains("--\(flag) "), "\(flag)") } else { #expect(help.contains(setting.key + ":")) }
            #expect(help.contains("[\(setting.key)]") || setting.flag == nil)
        }
        #expect(ServeSetting.named("maxBodyBytes").fullHelp.hasSuffix("[maxBodyBytes]. Default 1 GiB."))
        #expect(ServeSetting.named("segmentMaxAgeSeconds").fullHelp.hasSuffix("Default 60."))
        #expect(Set(ServeSetting.all.map(\.key)).count == ServeSetting.all.count)
    }
}
