import Foundation

/// Slows down password guessing at the built-in login (RFC 9700 §4.15, OWASP ASVS 2.2.1).
///
/// - Per username: after `freeAttempts` consecutive failures, further attempts are refused for a
///   lock-out that doubles with each failure, up to `maxLockout` seconds; a success clears it.
/// - Per interaction: at most `attemptsPerInteraction` failures, then the interaction is spent.
/// - bcrypt runs at most `concurrency` at a time, so a flood of logins queues instead of taking
///   every core.
///
/// State is per node (in memory): with several nodes an attacker gets each node's allowance, which
/// still bounds guessing to a few attempts per minute per node.
final class LoginThrottle: @unchecked Sendable {
    static let freeAttempts = 5
    static let maxLockout: TimeInterval = 900
    static let attemptsPerInteraction = 5
    static let capacity = 100_000

    private let lock = NSLock()
    private var failures: [String: (count: Int, lastFailure: Date)] = [:]
    private var interactionFailures: [String: Int] = [:]
    private let gate: AsyncGate

    init(concurrency: Int = max(2, ProcessInfo.processInfo.activeProcessorCount)) {
        gate = AsyncGate(limit: concurrency)
    }

    /// Seconds the username must still wait, or nil if an attempt is allowed now.
    func lockedOut(_ username: String, now: Date) -> TimeInterval? {
        lock.withLock {
            guard let f = failures[username.lowercased()], f.count >= Self.freeAttempts else { return nil }
            let lockout = min(Self.maxLockout, pow(2, Double(f.count - Self.freeAttempts)) * 2)
            let remaining = f.lastFailure.addingTimeInterval(lockout).timeIntervalSince(now)
            return remaining > 0 ? remaining : nil
        }
    }

    /// Records a failure; returns true when the interaction has used up its attempts.
    func failed(_ username: String, interaction: String, now: Date) -> Bool {
        lock.withLock {
            if failures.count >= Self.capacity { failures.removeAll(keepingCapacity: true) }
            if interactionFailures.count >= Self.capacity { interactionFailures.removeAll(keepingCapacity: true) }
            let key = username.lowercased()
            failures[key] = ((failures[key]?.count ?? 0) + 1, now)
            let n = (interactionFailures[interaction] ?? 0) + 1
            interactionFailures[interaction] = n
            return n >= Self.attemptsPerInteraction
        }
    }

    func succeeded(_ username: String, interaction: String) {
        lock.withLock {
            failures[username.lowercased()] = nil
            interactionFailures[interaction] = nil
        }
    }

    /// Runs expensive password work within the concurrency limit.
    func limited<T: Sendable>(_ work: @escaping @Sendable () async -> T) async -> T {
        await gate.acquire()
        defer { Task { await gate.release() } }
        return await work()
    }
}

/// A counting semaphore for async code.
actor AsyncGate {
    private let limit: Int
    private var inUse = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) { self.limit = limit }

    func acquire() async {
        if inUse < limit {
            inUse += 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty {
            inUse -= 1
        } else {
            waiters.removeFirst().resume()
        }
    }
}
