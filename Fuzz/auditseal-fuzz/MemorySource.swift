import AuditSealCore

/// A store held in memory, for the verifier target: the fuzzer replaces one file per execution
/// without copying a store on disk (33 executions a second became about 60; the rest of the cost is
/// verification itself).
/// Write-ahead segments need a local path (the verifier reads them as files); the fuzzed store is
/// sealed and has none.
struct MemorySource: StoreSource {
    var files: [String: [UInt8]]
    var name: String { "memory" }

    /// Every file under `root` (one level of folders, as a store has).
    init(loading root: String) {
        var files: [String: [UInt8]] = [:]
        for entry in (try? FileIO.list(root)) ?? [] {
            let path = root + "/" + entry
            if let bytes = try? FileIO.readAll(path: path) {
                files[entry] = bytes
            } else {
                for name in (try? FileIO.list(path)) ?? [] {
                    files[entry + "/" + name] = try? FileIO.readAll(path: path + "/" + name)
                }
            }
        }
        self.files = files
    }

    func list(_ folder: String) throws -> [String] {
        let prefix = folder + "/"
        return files.keys.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }.sorted()
    }

    func read(_ path: String) throws -> [UInt8]? { files[path] }

    func localPath(_ path: String) -> String? { nil }
}
