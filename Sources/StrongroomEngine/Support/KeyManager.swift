import Foundation
import Logging
import StrongroomCore
import StrongroomJOSE
import StrongroomStorage

/// The server's signing keys: PS256 and ES256, created on first start, persisted in storage (so
/// every node signs with the same keys), `kid` = RFC 7638 thumbprint.
///
/// Rotation is two-phase so relying parties can fetch the new key before it signs anything:
/// `rotate()` with no staged key stages a `next` key per algorithm (published, not signing);
/// `rotate()` again promotes `next` → `active` and `active` → `retiring` (published for
/// verification); `retire()` stops publishing `retiring` keys.
public final class KeyManager: @unchecked Sendable {
    private let lock = NSLock()
    private var current: ServerKeyRing
    private let storage: any SigningKeyStore
    private let clock: any TimeSource
    private let logger: Logger
    /// Algorithms the server always holds a key for.
    public static let algorithms: [JWSAlgorithm] = [.ps256, .es256]

    init(ring: ServerKeyRing, storage: any SigningKeyStore, clock: any TimeSource, logger: Logger) {
        self.current = ring
        self.storage = storage
        self.clock = clock
        self.logger = logger
    }

    public static func load(storage: any SigningKeyStore, clock: any TimeSource, logger: Logger) async throws -> KeyManager {
        let manager = KeyManager(ring: ServerKeyRing(signing: [], publishedOnly: []), storage: storage, clock: clock, logger: logger)
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

    /// Re-reads keys from storage (another node may have rotated).
    public func reload() async throws {
        let records = try await storage.keys()
        var signing: [ServerSigningKey] = []
        var published: [JWK] = []
        for r in records.sorted(by: { $0.createdAt > $1.createdAt }) {
            switch r.status {
            case .active:
                // Newest active key per algorithm signs; older active ones are only published.
                if !signing.contains(where: { $0.algorithm == r.algorithm }) {
                    signing.append(try ServerSigningKey(privateKeyPEM: r.privateKeyPEM, algorithm: r.algorithm))
                } else {
                    published.append(try JWK(json: r.publicJWK))
                }
            case .next, .retiring:
                published.append(try JWK(json: r.publicJWK))
            case .retired:
                continue
            }
        }
        let ring = ServerKeyRing(signing: signing, publishedOnly: published)
        lock.withLock { current = ring }
    }

    public func list() async throws -> [SigningKeyRecord] {
        Self.listed(try await storage.keys())
    }

    /// Phase one stages `next` keys; phase two promotes them. Returns the keys afterwards.
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

    /// Stops publishing keys that were rotated out.
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

    public var description: String {
        switch self {
        case .changedMeanwhile:
            "the signing keys were changed by another rotation meanwhile; nothing was changed: list the keys and run it again if still needed"
        }
    }

    /// The admin API's answer: 409, the keys being in a state this rotation may not change.
    var oauthError: OAuthError { OAuthError(.invalidRequest, description, status: 409) }
}
