import Foundation
import Logging
import StrongroomCore
import StrongroomJOSE
import StrongroomStorage

/// The server's signing keys: PS256 and ES256, created on first start, persisted in storage (so
/// every node signs with the same keys), `kid` = RFC 7638 thumbprint.
///
/// Every node re-reads the keys every `reloadInterval` (the server's `KeyReloader`), so a change
/// made on one node (or by the CLI) is in force on every node within `propagation`. The rules
/// below rest on that bound and keep every signature any node makes verifiable with every node's
/// JWKS, at every moment of a rotation:
///
/// - `rotate()` with no staged key stages a `next` key per algorithm: published, signing nothing.
/// - `rotate()` again promotes `next` → `active` and `active` → `retiring`, once the staged keys
///   have been published for `propagation` (every node publishes them before any signs with
///   them); earlier it is refused (`KeyRotationRefused.tooEarly`). A `retiring` key signs nothing
///   and stays published; a node that has not reloaded yet signs with it for at most `propagation`.
/// - `retire()` marks `retiring` keys `retired`. A retired key never signs; it stays published
///   for `retiredKeyGrace` after its retirement (`publishedUntil`): the longest lifetime of
///   anything a key signs, plus `propagation` for the node that signed last with it.
public final class KeyManager: @unchecked Sendable {
    private let lock = NSLock()
    private var current: ServerKeyRing
    /// Reloads started, and the latest started one whose keys are in force: a reload that read
    /// before another (the background one while a rotation reloads) never replaces its keys.
    private var reloadsStarted = 0
    private var reloadInForce = 0
    private let storage: any SigningKeyStore
    private let clock: any TimeSource
    private let logger: Logger
    /// How long a retired key stays published (see `publishedUntil`).
    public let retiredKeyGrace: TimeInterval
    /// Algorithms the server always holds a key for.
    public static let algorithms: [JWSAlgorithm] = [.ps256, .es256]
    /// How often every node re-reads the keys.
    public static let reloadInterval: TimeInterval = 5
    /// Within this long after a change to the keys commits, every running node has re-read them:
    /// one reload interval, and as much again for a slow reload and for clocks that differ
    /// between nodes (a change is timed by the clock of the node that made it).
    public static let propagation: TimeInterval = 2 * reloadInterval

    init(ring: ServerKeyRing, storage: any SigningKeyStore, clock: any TimeSource, logger: Logger, longestSignedLifetime: TimeInterval) {
        self.current = ring
        self.storage = storage
        self.clock = clock
        self.logger = logger
        self.retiredKeyGrace = longestSignedLifetime + Self.propagation
    }

    /// `longestSignedLifetime`: how long the longest-lived artifact the server signs (access
    /// token, ID token, authorization response) stays valid, in seconds.
    public static func load(storage: any SigningKeyStore, clock: any TimeSource, logger: Logger,
                            longestSignedLifetime: TimeInterval) async throws -> KeyManager {
        let manager = KeyManager(ring: ServerKeyRing(signing: [], publishedOnly: []), storage: storage, clock: clock, logger: logger,
                                 longestSignedLifetime: longestSignedLifetime)
        try await manager.ensureKeys()
        try await manager.reload()
        return manager
    }

    /// The keys now in force.
    public var ring: ServerKeyRing { lock.withLock { current } }

    public func signer(for algorithm: JWSAlgorithm) -> ServerSigningKey? { ring.signer(for: algorithm) }

    /// Creates an active key for each algorithm that has none, once, however many nodes start
    /// together on an empty database: the keys are created in `SigningKeyStore.changeKeys`, which
    /// checks again under its lock, so a node that finds the keys another node has just created
    /// uses those and drops its own.
    func ensureKeys() async throws {
        let existing = try await storage.keys()
        let missing = Self.algorithms.filter { alg in !existing.contains { $0.algorithm == alg && $0.status == .active } }
        guard !missing.isEmpty else { return }
        // Generated before the lock is taken: an RSA key takes a while, and nobody waits for it.
        let now = clock.now()
        let candidates = try missing.map { try Self.record(ServerSigningKey.generate($0), status: .active, at: now) }
        let after = try await storage.changeKeys { keys in
            candidates.filter { new in !keys.contains { $0.algorithm == new.algorithm && $0.status == .active } }.map(SigningKeyChange.add)
        }
        for key in candidates where after.contains(where: { $0.kid == key.kid }) {
            logger.notice("created signing key", metadata: ["kid": "\(key.kid)", "alg": "\(key.algorithm.rawValue)"])
        }
    }

    static func record(_ key: ServerSigningKey, status: SigningKeyRecord.Status, at now: Date) -> SigningKeyRecord {
        SigningKeyRecord(kid: key.kid, algorithm: key.algorithm, privateKeyPEM: key.privateKeyPEM, publicJWK: key.publicJWK.json,
                         status: status, createdAt: now, activatedAt: status == .active ? now : nil)
    }

    /// Until when a key is published: nil while it is staged, active or retiring (published as
    /// long as it stays so); for a retired key its retirement plus `retiredKeyGrace`.
    public func publishedUntil(_ key: SigningKeyRecord) -> Date? {
        guard key.status == .retired else { return nil }
        return (key.retiredAt ?? .distantPast).addingTimeInterval(retiredKeyGrace)
    }

    /// Re-reads the keys from storage (another node may have rotated) and puts them in force: the
    /// newest active key of each algorithm signs; older active, staged and retiring keys, and
    /// retired keys until `publishedUntil`, are published only. Private keys already in use are
    /// not parsed again.
    public func reload() async throws {
        let ticket = lock.withLock {
            reloadsStarted += 1
            return reloadsStarted
        }
        let records = try await storage.keys()
        let now = clock.now()
        let loaded = ring.signing
        var signing: [ServerSigningKey] = []
        var published: [JWK] = []
        for r in records.sorted(by: { $0.createdAt > $1.createdAt }) {
            switch r.status {
            case .active where !signing.contains(where: { $0.algorithm == r.algorithm }):
                if let same = loaded.first(where: { $0.kid == r.kid && $0.algorithm == r.algorithm }) {
                    signing.append(same)
                } else {
                    signing.append(try ServerSigningKey(privateKeyPEM: r.privateKeyPEM, algorithm: r.algorithm))
                }
            case .active, .next, .retiring:
                published.append(try JWK(json: r.publicJWK))
            case .retired:
                if let until = publishedUntil(r), now < until { published.append(try JWK(json: r.publicJWK)) }
            }
        }
        let ring = ServerKeyRing(signing: signing, publishedOnly: published)
        lock.withLock {
            guard ticket > reloadInForce else { return }
            current = ring
            reloadInForce = ticket
        }
    }

    public func list() async throws -> [SigningKeyRecord] {
        Self.listed(try await storage.keys())
    }

    /// Phase one stages `next` keys; phase two promotes them, once they have been staged for
    /// `propagation` (else `KeyRotationRefused.tooEarly`). Returns the keys afterwards.
    ///
    /// The phase is the one that follows the keys as this call first finds them; if another node
    /// or command changed them before this call's own change (`SigningKeyStore.changeKeys`), it
    /// changes nothing and throws `KeyRotationRefused.changedMeanwhile`, so two rotations started
    /// together never stage two key sets nor stage and promote in one go.
    @discardableResult
    public func rotate() async throws -> [SigningKeyRecord] {
        let before = try await storage.keys()
        let promoting = before.contains { $0.status == .next }
        let now = clock.now()
        let fresh = promoting ? [] : try Self.algorithms.map { try Self.record(ServerSigningKey.generate($0), status: .next, at: now) }
        let after = try await storage.changeKeys { keys in
            let staged = keys.filter { $0.status == .next }
            guard promoting == !staged.isEmpty else { throw KeyRotationRefused.changedMeanwhile }
            guard promoting else { return fresh.map(SigningKeyChange.add) }
            // Every node publishes the staged keys before any node signs with them.
            let publishedEverywhere = (staged.map(\.createdAt).max() ?? now).addingTimeInterval(Self.propagation)
            if now < publishedEverywhere {
                throw KeyRotationRefused.tooEarly(retryAfter: Int(publishedEverywhere.timeIntervalSince(now).rounded(.up)))
            }
            let demoted = keys.filter { old in old.status == .active && staged.contains { $0.algorithm == old.algorithm } }
            return demoted.map { .setStatus(kid: $0.kid, .retiring, at: now) } + staged.map { .setStatus(kid: $0.kid, .active, at: now) }
        }
        if promoting {
            let staged = Set(before.filter { $0.status == .next }.map(\.kid))
            for key in after where key.status == .active && staged.contains(key.kid) {
                logger.notice("activated signing key", metadata: ["kid": "\(key.kid)", "alg": "\(key.algorithm.rawValue)"])
            }
        } else {
            for key in fresh {
                logger.notice("staged signing key", metadata: ["kid": "\(key.kid)", "alg": "\(key.algorithm.rawValue)"])
            }
        }
        try await reload()
        return Self.listed(after)
    }

    /// Retires the keys rotated out: they sign nothing (as when `retiring`) and stay published
    /// until `publishedUntil`, so what they signed before the rotation can still be verified.
    @discardableResult
    public func retire() async throws -> [SigningKeyRecord] {
        let now = clock.now()
        let after = try await storage.changeKeys { keys in
            keys.filter { $0.status == .retiring }.map { .setStatus(kid: $0.kid, .retired, at: now) }
        }
        try await reload()
        return Self.listed(after)
    }

    static func listed(_ keys: [SigningKeyRecord]) -> [SigningKeyRecord] {
        keys.sorted { $0.createdAt < $1.createdAt }
    }
}

/// A rotation that was not made, and why.
public enum KeyRotationRefused: Error, Sendable, Equatable, CustomStringConvertible {
    /// Another node or command changed the keys between this rotation's first look and its change.
    case changedMeanwhile
    /// The staged keys may not be published by every node yet: promoting them now would let a node
    /// sign with a key another node does not publish. Possible in `retryAfter` seconds.
    case tooEarly(retryAfter: Int)

    public var description: String {
        switch self {
        case .changedMeanwhile:
            "the signing keys were changed by another rotation meanwhile; nothing was changed: list the keys and run it again if still needed"
        case .tooEarly(let seconds):
            "the staged keys were staged less than \(Int(KeyManager.propagation)) seconds ago and may not be published by every node yet; "
                + "nothing was changed: promote them in \(seconds) seconds at the earliest"
        }
    }

    /// The admin API's answer: 409, the keys being in a state this rotation may not change (with
    /// `Retry-After` when waiting is all it takes).
    var oauthError: OAuthError {
        var e = OAuthError(.invalidRequest, description, status: 409)
        if case .tooEarly(let seconds) = self { e.retryAfter = max(1, seconds) }
        return e
    }
}
