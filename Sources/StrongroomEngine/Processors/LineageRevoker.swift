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

    /// Revokes a lineage (RFC 6749 §4.1.2 for a replayed code, RFC 9700 §4.14.2 for a replayed
    /// refresh token, and a consent the user withdrew).
    ///
    /// Revoking only the rows that exist loses a race: a request that redeemed the same code a
    /// millisecond earlier may still be writing its tokens. So a revocation marker is written first
    /// (in the shared replay store, so every node sees it) and then the rows are revoked; a token
    /// issuer checks the marker after its tokens are durable, and every use checks it too.
    /// Whichever order the two requests' writes land in, the issued tokens die. The marker
    /// outlives every token of the lineage.
    @discardableResult
    func revoke(_ lineage: Lineage) async -> Int {
        let now = clock.now()
        let l = service.lifetimes
        let until = now.addingTimeInterval(TimeInterval(max(l.refreshToken, l.accessToken, l.authorizationCode) + service.clockSkew))
        do {
            _ = try await storage.remember(namespace: Self.namespace, value: lineage.key, expiresAt: until, now: now)
        } catch {
            logger.error("could not record a lineage revocation", metadata: ["lineage": "\(lineage.key)", "detail": "\(error)"])
        }
        let revoked: Int?
        switch lineage {
        case .code(let id): revoked = try? await storage.revokeTokens(codeID: id, at: now)
        case .family(let id): revoked = try? await storage.revokeTokens(familyID: id, at: now)
        case .grant(let id): revoked = try? await storage.revokeTokens(grantID: id, at: now)
        }
        return revoked ?? 0
    }

    /// Whether any of these lineages has been revoked. A storage failure counts as revoked
    /// (fail closed) and is reported as `server_error`.
    func isRevoked(_ lineages: [Lineage]) async throws(OAuthError) -> Bool {
        guard !lineages.isEmpty else { return false }
        do {
            return try await storage.isRemembered(namespace: Self.namespace, values: lineages.map(\.key), now: clock.now())
        } catch {
            throw OAuthError.failure(error, "lineage check")
        }
    }
}
