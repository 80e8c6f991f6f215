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

    /// Creates an active key for each algorithm that has none.
    func ensureKeys() async throws {
        let existing = try await storage.keys()
        for alg in Self.algorithms where !existing.contains(where: { $0.algorithm == alg && $0.status == .active }) {
            let key = try ServerSigningKey.generate(alg)
            try await storage.saveKey(SigningKeyRecord(
                kid: key.kid, algorithm: alg, privateKeyPEM: key.privateKeyPEM, publicJWK: key.publicJWK.json,
                status: .active, createdAt: clock.now(), activatedAt: clock.now()))
            logger.notice("created signing key", metadata: ["kid": "\(key.kid)", "alg": "\(alg.rawValue)"])
        }
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
        try await storage.keys().sorted { $0.createdAt < $1.createdAt }
    }

    /// Phase one stages `next` keys; phase two promotes them. Returns the keys afterwards.
    @discardableResult
    public func rotate() async throws -> [SigningKeyRecord] {
        let records = try await storage.keys()
        let staged = records.filter { $0.status == .next }
        let now = clock.now()
        if staged.isEmpty {
            for alg in Self.algorithms {
                let key = try ServerSigningKey.generate(alg)
                try await storage.saveKey(SigningKeyRecord(
                    kid: key.kid, algorithm: alg, privateKeyPEM: key.privateKeyPEM, publicJWK: key.publicJWK.json,
                    status: .next, createdAt: now))
                logger.notice("staged signing key", metadata: ["kid": "\(key.kid)", "alg": "\(alg.rawValue)"])
            }
        } else {
            for old in records where old.status == .active && staged.contains(where: { $0.algorithm == old.algorithm }) {
                try await storage.updateKeyStatus(kid: old.kid, status: .retiring, at: now)
            }
            for key in staged {
                try await storage.updateKeyStatus(kid: key.kid, status: .active, at: now)
                logger.notice("activated signing key", metadata: ["kid": "\(key.kid)"])
            }
        }
        try await reload()
        return try await list()
    }

    /// Stops publishing keys that were rotated out.
    @discardableResult
    public func retire() async throws -> [SigningKeyRecord] {
        for r in try await storage.keys() where r.status == .retiring {
            try await storage.updateKeyStatus(kid: r.kid, status: .retired, at: clock.now())
        }
        try await reload()
        return try await list()
    }
}
