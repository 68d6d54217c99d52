/// Remembers the (auditID, stage) keys of recent events, so that a batch the API server re-sends
/// (after a lost answer or a receiver crash) is not stored twice.
///
/// Two generations of at most `capacity` keys each: when the current one is full it becomes the
/// previous one and the oldest generation is dropped whole. So at least the last `capacity` events
/// (and at most twice that) are remembered, without removing keys one by one.
struct DuplicateFilter {
    private var current = Set<Key>()
    private var previous = Set<Key>()
    let capacity: Int

    /// A key: two independent 64-bit hashes of auditID and stage (a collision would need both to match).
    struct Key: Hashable {
        var a: UInt64
        var b: UInt64

        func hash(into hasher: inout Hasher) { hasher.combine(a) }
    }

    init(capacity: Int) {
        self.capacity = max(0, capacity)
        current.reserveCapacity(min(self.capacity, 1 << 20))
    }

    /// The key of an event, from the raw bytes of its auditID and stage.
    static func key(auditID: UnsafeRawBufferPointer, stage: UnsafeRawBufferPointer) -> Key {
        // FNV-1a 64 in two variants (different offset bases), stable across processes.
        var a: UInt64 = 0xcbf29ce484222325
        var b: UInt64 = 0x84222325cbf29ce4
        for byte in auditID { a = (a ^ UInt64(byte)) &* 0x100000001b3; b = (b ^ UInt64(byte)) &* 0x100000001b3 &+ 1 }
        a = (a ^ 0x7c) &* 0x100000001b3
        b = (b ^ 0x7c) &* 0x100000001b3
        for byte in stage { a = (a ^ UInt64(byte)) &* 0x100000001b3; b = (b ^ UInt64(byte)) &* 0x100000001b3 &+ 1 }
        return Key(a: a, b: b)
    }

    func contains(_ key: Key) -> Bool { current.contains(key) || previous.contains(key) }

    /// Remembers a key.
    mutating func insert(_ key: Key) {
        guard capacity > 0 else { return }
        if current.count >= capacity {
            previous = current
            current = Set(minimumCapacity: min(capacity, 1 << 20))
        }
        current.insert(key)
    }
}
