import AuditSealCore
import Foundation

/// A running `auditseal witness` on an ephemeral loopback port: its base URL once it listens.
public final class WitnessProcess {
    public let process = Process()
    public let url: String
    let out = Pipe()

    /// `arguments` after `witness --listen 127.0.0.1:0` (key, data directory, name, logs, ...).
    public init(arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: TestSupport.product("auditseal"))
        process.arguments = ["witness", "--listen", "127.0.0.1:0"] + arguments
        process.standardOutput = out
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        var buffer = Data()
        while !String(decoding: buffer, as: UTF8.self).contains("\n") {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            buffer.append(chunk)
        }
        let text = String(decoding: buffer, as: UTF8.self)
        guard let range = text.range(of: "listening on ") else { throw AuditSealError(.io, "witness did not start: \(text)", fileID: #fileID) }
        url = String(text[range.upperBound...].prefix { $0 != "\n" })
    }

    /// kill -9 (the test runner's children ignore SIGTERM).
    public func kill() {
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
