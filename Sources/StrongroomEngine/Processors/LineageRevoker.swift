import Foundation
import Logging
import StrongroomCore
import StrongroomStorage

/// What a token descends from: the authorization code it was issued for, its refresh-token family,
/// and the user's consent (grant). Theft detection and the user's revocation kill a whole lineage.
enum Lineage: Sendable {
    case code(String)
    case family(String)
    case grant(String)

    var key: String {
        switch self {
        case .code(let id): "code:" + id
        case .family(let id): "family:" + id
        case .grant(let id): "grant:" + id
        }
    }
}

extension Lineage {
    /// The lineages a token (or a token being issued) belongs to. Tokens of the client-credentials
    /// grant have none that can be revoked this way.
    static func of(codeID: String?, familyID: String?, grantID: String?) -> [Lineage] {
        guard codeID != nil || grantID != nil else { return [] }
        var out: [Lineage] = []
        if let codeID { out.append(.code(codeID)) }
        if let familyID { out.append(.family(familyID)) }
        if let grantID { out.append(.grant(grantID)) }
        return out
    }
}

/// Revokes lineages and answers whether one is revoked, with what it uses: the token store, the
/// shared replay store (revocation markers), the lifetimes, the clock and the log.
struct LineageRevoker: Sendable {
    static let namespace = "revoked-lineage"

    let storage: any TokenStore & ReplayCache
    let service: ServiceSettings
    let clock: any TimeSource
    let logger: Logger

    /// Revocations the database would not take yet, honoured here until it does.
    let pending = PendingRevocations()

    /// Revokes a lineage (RFC 6749 §4.1.2 for a replayed code, RFC 9700 §4.14.2 for a replayed
    /// refresh token, and a consent the user withdrew).
    ///
    /// Revoking only the rows that exist loses a race: a request that redeemed the same code a
    /// millisecond earlier may still be writing its tokens. So a revocation marker is written first
    /// (in the shared replay store, so every node sees it) and then the rows are revoked; a token
    /// issuer checks the marker after its tokens are durable, and every use checks it too.
    /// Whichever order the two requests' writes land in, the issued tokens die. The marker
    /// outlives every token of the lineage.
    ///
    /// When the database refuses the writes (a full disk, a lost connection) the revocation is not
    /// dropped: this node keeps it, refuses the lineage's tokens at once, and writes it again at
    /// the next lineage check a second or more later until the database takes it (then every node
    /// sees it). Kept in memory only: a node killed before that loses it.
    @discardableResult
    func revoke(_ lineage: Lineage) async -> Int {
        let now = clock.now()
        let l = service.lifetimes
        let until = now.addingTimeInterval(TimeInterval(max(l.refreshToken, l.accessToken, l.authorizationCode) + service.clockSkew))
        if let revoked = await store(lineage, until: until, now: now) { return revoked }
        if !pending.add(lineage, until: until) {
            logger.critical("lineage revocation lost: too many are waiting for the database", metadata: ["lineage": "\(lineage.key)"])
        }
        return 0
    }

    /// The marker, then the rows; nil when either write failed.
    private func store(_ lineage: Lineage, until: Date, now: Date) async -> Int? {
        do {
            _ = try await storage.remember(namespace: Self.namespace, value: lineage.key, expiresAt: until, now: now)
            switch lineage {
            case .code(let id): return try await storage.revokeTokens(codeID: id, at: now)
            case .family(let id): return try await storage.revokeTokens(familyID: id, at: now)
            case .grant(let id): return try await storage.revokeTokens(grantID: id, at: now)
            }
        } catch {
            logger.error("could not record a lineage revocation; kept on this node and written again later",
                         metadata: ["lineage": "\(lineage.key)", "detail": "\(error)"])
            return nil
        }
    }

    /// Writes the pending revocations again, at most once a second, stopping at the first the
    /// database still refuses. Called at every lineage check and by the server every few seconds
    /// (`Engine.retryPendingRevocations`), so an idle node writes them too.
    func retryPending(now: Date) async {
        guard let due = pending.due(now: now, every: 1) else { return }
        for entry in due {
            guard await store(entry.lineage, until: entry.until, now: now) != nil else { return }
            pending.remove(entry.lineage.key)
        }
    }

    /// Whether any of these lineages has been revoked. A storage failure counts as revoked
    /// (fail closed) and is reported as `server_error`.
    func isRevoked(_ lineages: [Lineage]) async throws(OAuthError) -> Bool {
        guard !lineages.isEmpty else { return false }
        if !pending.isEmpty {
            await retryPending(now: clock.now())
            if pending.contains(any: lineages.map(\.key)) { return true }
        }
        do {
            return try await storage.isRemembered(namespace: Self.namespace, values: lineages.map(\.key), now: clock.now())
        } catch {
            throw OAuthError.failure(error, "lineage check")
        }
    }
}

/// Lineage revocations waiting for the database (`LineageRevoker.revoke`), bounded; an entry
/// leaves once written or once every token it covers has expired anyway.
final class PendingRevocations: @unchecked Sendable {
    static let capacity = 100_000
    struct Entry: Sendable {
        var lineage: Lineage
        var until: Date
    }
    private let lock = NSLock()
    private var entries: [String: Entry] = [:]
    private var lastAttempt = Date.distantPast

    var isEmpty: Bool { lock.withLock { entries.isEmpty } }

    /// False when full (the caller logs the loss).
    func add(_ lineage: Lineage, until: Date) -> Bool {
        lock.withLock {
            guard entries.count < Self.capacity || entries[lineage.key] != nil else { return false }
            entries[lineage.key] = Entry(lineage: lineage, until: until)
            return true
        }
    }

    func contains(any keys: [String]) -> Bool {
        lock.withLock { keys.contains { entries[$0] != nil } }
    }

    func remove(_ key: String) {
        _ = lock.withLock { entries.removeValue(forKey: key) }
    }

    /// The entries to write again, if the last attempt is at least `every` seconds old; expired
    /// entries are dropped.
    func due(now: Date, every: TimeInterval) -> [Entry]? {
        lock.withLock {
            guard now.timeIntervalSince(lastAttempt) >= every else { return nil }
            lastAttempt = now
            entries = entries.filter { $0.value.until > now }
            return entries.isEmpty ? nil : Array(entries.values)
        }
    }
}
