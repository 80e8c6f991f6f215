import Foundation

/// Slows down password guessing at the built-in login (RFC 9700 §4.15, OWASP ASVS 2.2.1).
///
/// - Per username: after `freeAttempts` consecutive failures, further attempts are refused for a
///   lock-out that doubles with each failure, up to `maxLockout` seconds; a success clears it, and
///   the failures are forgotten `failureMemory` seconds after the last one.
/// - Per interaction: at most `attemptsPerInteraction` failures, then the interaction is spent.
/// - bcrypt runs at most `concurrency` at a time with at most `queue` sign-ins waiting for a turn;
///   beyond that a sign-in is shed at once (`limited` returns nil) instead of hanging.
///
/// Both maps hold at most `capacity` entries and are never emptied in bulk: a new entry in a full
/// map evicts the least recently used one that has expired or is not locked out, so a flood of
/// distinct usernames cannot unlock an account (`RecencyTable`).
///
/// State is per node (in memory): with several nodes an attacker gets each node's allowance, which
/// still bounds guessing to a few attempts per minute per node.
final class LoginThrottle: @unchecked Sendable {
    static let freeAttempts = 5
    static let maxLockout: TimeInterval = 900
    static let attemptsPerInteraction = 5
    static let capacity = 100_000
    /// How long a username's failures are remembered after the last one.
    static let failureMemory: TimeInterval = 3600
    /// The longest username kept as a key, in UTF-8 bytes (no account has a longer one).
    static let maxKeyLength = 256

    private struct Failures {
        var count: Int
        var lastFailure: Date
    }

    private struct InteractionFailures {
        var count: Int
        var expires: Date
    }

    private let lock = NSLock()
    private var failures: RecencyTable<String, Failures>
    private var interactionFailures: RecencyTable<String, InteractionFailures>
    private let interactionLifetime: TimeInterval
    let gate: AsyncGate

    /// `concurrency` is capped at the number of cores: more bcrypt at once only slows each down.
    init(concurrency: Int = 2, queue: Int = 32, capacity: Int = LoginThrottle.capacity, interactionLifetime: TimeInterval = 900) {
        gate = AsyncGate(limit: max(1, min(concurrency, ProcessInfo.processInfo.activeProcessorCount)), queue: max(0, queue))
        failures = RecencyTable(capacity: capacity)
        interactionFailures = RecencyTable(capacity: capacity)
        self.interactionLifetime = interactionLifetime
    }

    private static func key(_ username: String) -> String {
        let lower = username.lowercased()
        guard lower.utf8.count > maxKeyLength else { return lower }
        return String(decoding: lower.utf8.prefix(maxKeyLength), as: UTF8.self)
    }

    /// Seconds a username with these failures must still wait at `now`, or nil.
    private static func remaining(_ f: Failures, now: Date) -> TimeInterval? {
        guard f.count >= freeAttempts else { return nil }
        let lockout = min(maxLockout, pow(2, Double(min(f.count - freeAttempts, 30))) * 2)
        let remaining = f.lastFailure.addingTimeInterval(lockout).timeIntervalSince(now)
        return remaining > 0 ? remaining : nil
    }

    private static func expired(_ f: Failures, now: Date) -> Bool {
        f.lastFailure.addingTimeInterval(failureMemory) <= now
    }

    /// Seconds the username must still wait, or nil if an attempt is allowed now.
    func lockedOut(_ username: String, now: Date) -> TimeInterval? {
        let key = Self.key(username)
        return lock.withLock {
            guard let f = failures.value(for: key) else { return nil }
            if Self.expired(f, now: now) {
                failures.removeValue(for: key)
                return nil
            }
            return Self.remaining(f, now: now)
        }
    }

    /// Records a failure; returns true when the interaction has used up its attempts.
    func failed(_ username: String, interaction: String, now: Date) -> Bool {
        let key = Self.key(username)
        return lock.withLock {
            var f = failures.value(for: key) ?? Failures(count: 0, lastFailure: now)
            if Self.expired(f, now: now) { f.count = 0 }
            f.count += 1
            f.lastFailure = now
            failures.set(key, f, expendable: { Self.expired($0, now: now) || Self.remaining($0, now: now) == nil })
            var i = interactionFailures.value(for: interaction) ?? InteractionFailures(count: 0, expires: now.addingTimeInterval(interactionLifetime))
            if i.expires <= now { i = InteractionFailures(count: 0, expires: now.addingTimeInterval(interactionLifetime)) }
            i.count += 1
            interactionFailures.set(interaction, i, expendable: { $0.expires <= now })
            return i.count >= Self.attemptsPerInteraction
        }
    }

    func succeeded(_ username: String, interaction: String) {
        let key = Self.key(username)
        lock.withLock {
            failures.removeValue(for: key)
            interactionFailures.removeValue(for: interaction)
        }
    }

    /// Usernames and interactions with failures held now (for tests).
    var trackedEntries: (usernames: Int, interactions: Int) {
        lock.withLock { (failures.count, interactionFailures.count) }
    }

    /// Runs expensive password work within the concurrency limit; nil, without running it, when
    /// every slot is busy and the wait queue is full.
    func limited<T: Sendable>(_ work: @escaping @Sendable () async -> T) async -> T? {
        guard await gate.acquire() else { return nil }
        let result = await work()
        await gate.release()
        return result
    }
}

/// A counting semaphore for async code with a bounded wait queue.
actor AsyncGate {
    let limit: Int
    let queue: Int
    private(set) var inUse = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(limit: Int, queue: Int = Int.max) {
        self.limit = limit
        self.queue = queue
    }

    var waiting: Int { waiters.count }

    /// Takes a slot, waiting for one if the queue has room; false at once when it has none.
    func acquire() async -> Bool {
        if inUse < limit {
            inUse += 1
            return true
        }
        guard waiters.count < queue else { return false }
        await withCheckedContinuation { waiters.append($0) }
        return true
    }

    func release() {
        if waiters.isEmpty {
            inUse -= 1
        } else {
            waiters.removeFirst().resume()
        }
    }
}
