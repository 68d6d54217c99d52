import AuditSealCore
import Foundation

/// A small Python receiver for behaviour Fluent Bit does not have (a refused event, HEC indexer
/// acknowledgement, a client certificate required): the script binds 127.0.0.1:0 and prints its
/// port as its first line. Stopped with SIGKILL (the test runner's children ignore SIGTERM).
public final class ScriptedReceiver {
    public let port: Int
    let process: Process

    public init(dir: String, name: String, script: String, arguments: [String] = []) throws {
        let path = dir + "/\(name).py"
        try FileIO.writeAtomically(path: path, bytes: Array(script.utf8))
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [path] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        var line = [UInt8]()
        while !line.contains(0x0a) {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line += chunk
        }
        guard let port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            kill(process.processIdentifier, SIGKILL)
            throw AuditSealError(.usage, "\(name).py did not print its port")
        }
        self.port = port
    }

    public func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit { if process.isRunning { stop() } }
}
