import Foundation
import StrongroomCore
import StrongroomJOSE
import StrongroomPolicy
import StrongroomStorage

/// Answers token introspection (RFC 7662, RFC 9701), with what it uses: the token store, the
/// secret hasher, the clock, the lineage revoker and the signer.
struct Introspector: Sendable {
    let service: ServiceSettings
    let storage: any TokenStore
    let hasher: SecretHasher
    let clock: any TimeSource
    let lineage: LineageRevoker
    let signer: ArtifactSigner

    var issuer: String { service.issuer }
    var now: Date { clock.now() }

    /// The introspection response for `token` as `auth` may see it: a client learns about its own
    /// tokens; an operator-designated resource server also about other clients' access tokens
    /// (never their refresh tokens). Anything else, or anything dead, is `active: false`. When the
    /// database cannot be reached the answer is 503 (`OAuthError.failure`), never a false
    /// "inactive" that a resource server would act on.
    func describe(_ token: String, for auth: AuthenticatedClient) async throws(OAuthError) -> [String: JSONValue] {
        var body: [String: JSONValue] = ["active": false]
        guard token.count <= 4096 else { return body }
        let found: TokenRecord?
        do { found = try await storage.token(hash: hasher.hash(token)) } catch { throw OAuthError.failure(error, "introspection") }
        guard let r = found, r.revokedAt == nil, r.expiresAt > now,
              r.rotatedAt == nil,   // a refresh token rotated out is dead (RFC 9700 sec. 4.14.2)
              r.clientID == auth.clientID || (auth.client.metadata.resourceServer == true && r.kind == .access) else { return body }
        // A failing lineage check counts as revoked (fail closed), unless it is an outage.
        let revoked: Bool
        do { revoked = try await lineage.isRevoked(Lineage.of(codeID: r.codeID, familyID: r.familyID, grantID: r.grantID)) } catch {
            if error.code == .temporarilyUnavailable { throw error }
            revoked = true
        }
        if !revoked {
            body = [
                "active": true, "client_id": .string(r.clientID), "scope": .string(r.scopes.joined(separator: " ")),
                "token_type": .string(r.kind == .access ? (r.dpopJKT != nil ? "DPoP" : "Bearer") : "refresh_token"),
                "exp": unixTime(r.expiresAt), "iat": unixTime(r.createdAt), "iss": .string(issuer),
                "strongroom_profile": .string(r.profile.rawValue),
            ]
            if let s = r.subject { body["sub"] = .string(s) }
            if let a = r.acr { body["acr"] = .string(a) }
            if let t = r.authTime { body["auth_time"] = unixTime(t) }
            var cnf: [String: JSONValue] = [:]
            if let c = r.certificateThumbprint { cnf["x5t#S256"] = .string(c) }
            if let j = r.dpopJKT { cnf["jkt"] = .string(j) }
            if !cnf.isEmpty { body["cnf"] = .object(cnf) }
        }
        return body
    }

    /// RFC 9701: the response as a JWT, signed as strictly as any profile the calling client may
    /// be held to.
    func signed(_ body: [String: JSONValue], for auth: AuthenticatedClient) throws(OAuthError) -> String {
        let alg = signer.algorithm(registered: auth.client.metadata.introspectionSignedResponseAlg, offered: service.algorithms.introspection,
                                   profiles: ProfileSelector(service: service).profiles(for: auth.client.metadata))
        let claims: [String: JSONValue] = ["iss": .string(issuer), "aud": .string(auth.clientID), "iat": unixTime(now),
                                           "token_introspection": .object(body)]
        return try signer.sign(claims, algorithm: alg, type: "token-introspection+jwt")
    }
}
