import Foundation

/// A small thread-safe cache with a size bound and an optional lifetime per entry. When full it
/// starts over (entries are cheap to rebuild; the bound only keeps hostile input from growing it).
public final class BoundedCache<Key: Hashable & Sendable, Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [Key: (value: Value, until: Date?)] = [:]
    public let capacity: Int
    public let lifetime: TimeInterval?

    public init(capacity: Int, lifetime: TimeInterval? = nil) {
        self.capacity = capacity
        self.lifetime = lifetime
    }

    /// The live value for `key`; an expired one is dropped.
    public func get(_ key: Key, now: Date = Date()) -> Value? {
        lock.withLock {
            guard let e = entries[key] else { return nil }
            if let until = e.until, until < now {
                entries[key] = nil
                return nil
            }
            return e.value
        }
    }

    public func put(_ key: Key, _ value: Value, now: Date = Date()) {
        lock.withLock {
            if entries.count >= capacity, entries[key] == nil { entries.removeAll(keepingCapacity: true) }
            entries[key] = (value, lifetime.map { now.addingTimeInterval($0) })
        }
    }

    public func remove(_ key: Key) {
        lock.withLock { entries[key] = nil }
    }
}
