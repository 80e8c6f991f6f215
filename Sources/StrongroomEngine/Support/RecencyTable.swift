/// A map of at most `capacity` entries kept in order of last use, for state that hostile input
/// can grow (rate-limit buckets, sign-in failures). It is never emptied in bulk: adding a key to
/// a full table evicts one entry — the least recently used one the caller calls expendable
/// (an entry that has forgotten nothing, or has expired), else the least recently used of all.
///
/// The search looks at no more than `searchLimit` entries from the old end; the entries it passes
/// over and keeps move to the recent end, so the next search looks at new candidates.
/// Not thread-safe: its owner holds a lock.
struct RecencyTable<Key: Hashable, Value> {
    private struct Node {
        var key: Key
        var value: Value
        var older: Int
        var newer: Int
    }

    let capacity: Int
    let searchLimit: Int
    private var nodes: [Node] = []
    private var slots: [Key: Int] = [:]
    private var free: [Int] = []
    /// Index of the most recently used node, and of the least recently used (-1: empty).
    private var newest = -1
    private var oldest = -1

    init(capacity: Int, searchLimit: Int = 64) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.searchLimit = max(1, searchLimit)
    }

    var count: Int { slots.count }

    /// The entry for `key`, marked as just used.
    mutating func value(for key: Key) -> Value? {
        guard let i = slots[key] else { return nil }
        moveToNewest(i)
        return nodes[i].value
    }

    /// Sets the entry for `key`, marked as just used; a new key in a full table first evicts one
    /// entry (see the type's summary). Returns the evicted key, if any.
    @discardableResult
    mutating func set(_ key: Key, _ value: Value, expendable: (Value) -> Bool) -> Key? {
        if let i = slots[key] {
            nodes[i].value = value
            moveToNewest(i)
            return nil
        }
        var evicted: Key?
        if slots.count >= capacity { evicted = evictOne(expendable: expendable) }
        let node = Node(key: key, value: value, older: newest, newer: -1)
        let i: Int
        if let reused = free.popLast() {
            nodes[reused] = node
            i = reused
        } else {
            nodes.append(node)
            i = nodes.count - 1
        }
        if newest >= 0 { nodes[newest].newer = i }
        newest = i
        if oldest < 0 { oldest = i }
        slots[key] = i
        return evicted
    }

    mutating func removeValue(for key: Key) {
        guard let i = slots.removeValue(forKey: key) else { return }
        unlink(i)
        free.append(i)
    }

    /// Keys from the least to the most recently used (for tests).
    var keysOldestFirst: [Key] {
        var out: [Key] = []
        var i = oldest
        while i >= 0 {
            out.append(nodes[i].key)
            i = nodes[i].newer
        }
        return out
    }

    private mutating func evictOne(expendable: (Value) -> Bool) -> Key? {
        guard oldest >= 0 else { return nil }
        var skipped: [Int] = []
        var victim = -1
        var i = oldest
        while i >= 0, skipped.count < searchLimit {
            if expendable(nodes[i].value) {
                victim = i
                break
            }
            skipped.append(i)
            i = nodes[i].newer
        }
        if victim >= 0 {
            // The entries kept on the way go to the recent end: the next search starts past them.
            for k in skipped { moveToNewest(k) }
        } else {
            victim = oldest
        }
        let key = nodes[victim].key
        slots[key] = nil
        unlink(victim)
        free.append(victim)
        return key
    }

    private mutating func moveToNewest(_ i: Int) {
        guard i != newest else { return }
        unlink(i)
        nodes[i].older = newest
        nodes[i].newer = -1
        if newest >= 0 { nodes[newest].newer = i }
        newest = i
        if oldest < 0 { oldest = i }
    }

    private mutating func unlink(_ i: Int) {
        let older = nodes[i].older
        let newer = nodes[i].newer
        if older >= 0 { nodes[older].newer = newer } else { oldest = newer }
        if newer >= 0 { nodes[newer].older = older } else { newest = older }
        nodes[i].older = -1
        nodes[i].newer = -1
    }
}
