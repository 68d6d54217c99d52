/// Remembers the (auditID, stage) keys of the most recent events, so that a batch the API server
/// re-sends (after a lost answer or a receiver crash) is not stored twice.
struct DuplicateFilter {
    private var keys = Set<Key>()
    private var ring: [Key]
    private var next = 0
    let capacity: Int

    /// A key: two independent 64-bit hashes of auditID and stage (a collision would need both to match).
    struct Key: Hashable {
        var a: UInt64
        var b: UInt64
    }

    init(capacity: Int) {
        self.capacity = max(0, capacity)
        ring = []
        ring.reserveCapacity(min(self.capacity, 1 << 20))
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

    func contains(_ key: Key) -> Bool { keys.contains(key) }

    /// Remembers a key, forgetting the oldest when full.
    mutating func insert(_ key: Key) {
        guard capacity > 0 else { return }
        if ring.count < capacity {
            ring.append(key)
        } else {
            keys.remove(ring[next])
            ring[next] = key
            next = (next + 1) % capacity
        }
        keys.insert(key)
    }
}
