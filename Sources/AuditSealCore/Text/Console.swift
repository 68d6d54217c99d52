import FoundationEssentials
import Glibc

/// The process's standard output and error as byte sinks (Foundation's `FileHandle`, which only the
/// full Foundation has): each write is written whole, retried after EINTR; a closed pipe is ignored.
public struct ConsoleStream: Sendable {
    let fd: Int32

    public func write(_ data: Data) {
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return }
                offset += n
            }
        }
    }
}

public enum Console {
    public static let standardOutput = ConsoleStream(fd: 1)
    public static let standardError = ConsoleStream(fd: 2)
}
