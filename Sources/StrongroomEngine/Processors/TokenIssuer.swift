import Crypto
import Foundation
import StrongroomCore
import StrongroomJOSE
import StrongroomPolicy
import StrongroomStorage

/// Issues tokens, with what it uses: the token and user stores, the signer, the secret hasher,
/// the random source, the clock and the lineage revoker (so a lineage revoked while the tokens
/// are being written never hands them out).
struct TokenIssuer: Sendable {
    let service: ServiceSettings
    let storage: any TokenStore & UserStore
    let signer: ArtifactSigner
    let hasher: SecretHasher
    let random: any RandomSource
    let clock: any TimeSource
    let lineage: LineageRevoker

    var issuer: String { service.issuer }
    var now: Date { clock.now() }
    func newID() -> String { random.token(bits: 128) }

    /// Creates and durably stores the tokens, then builds the RFC 6749 §5.1 response body.
    /// `binding` is the certificate thumbprint the tokens are bound to (RFC 8705), `dpop` the DPoP
    /// key thumbprint (RFC 9449): the access token is bound to it and typed `DPoP`; a refresh token
    /// only for a public client (§5: a confidential client's refresh tokens are bound to its
    /// authentication already).
    func issue(auth: AuthenticatedClient, subject: String?, scopes: [String], codeID: String?, grantID: String?, familyID: String?,
                     binding: String?, dpop: String? = nil, profile: Profile, authTime: Date?, acr: String?, nonce: String?, claimsRequest: JSONValue?,
                     withIDToken: Bool, withRefresh: Bool) async throws(OAuthError) -> [String: JSONValue] {
        let lifetime = service.lifetimes.accessToken
        let family = familyID ?? newID()
        let accessID = newID()
        let format = auth.client.metadata.accessTokenFormat ?? service.accessTokenFormat
        let accessToken: String
        if format == .jwt {
            // RFC 9068: a signed JWT; its hash is stored like any token so revocation still works.
            var claims: [String: JSONValue] = [
                "iss": .string(issuer), "aud": .string(issuer), "client_id": .string(auth.clientID),
                "iat": unixTime(now), "exp": unixTime(now.addingTimeInterval(TimeInterval(lifetime))),
                "jti": .string(accessID), "scope": .string(scopes.joined(separator: " ")),
                "sub": .string(subject ?? auth.clientID),
            ]
            if let authTime { claims["auth_time"] = unixTime(authTime) }
            if let acr { claims["acr"] = .string(acr) }
            var cnf: [String: JSONValue] = [:]
            if let binding { cnf["x5t#S256"] = .string(binding) }
            if let dpop { cnf["jkt"] = .string(dpop) }
            if !cnf.isEmpty { claims["cnf"] = .object(cnf) }
            let alg = signer.algorithm(registered: nil, offered: service.algorithms.accessToken, profiles: [profile])
            accessToken = try signer.sign(claims, algorithm: alg, type: "at+jwt")
        } else {
            accessToken = random.token(bits: 256)
        }
        var records = [TokenRecord(
            tokenHash: hasher.hash(accessToken), id: accessID, kind: .access, clientID: auth.clientID, subject: subject, scopes: scopes,
            codeID: codeID, grantID: grantID, familyID: family, certificateThumbprint: binding, dpopJKT: dpop, profile: profile,
            authTime: authTime, acr: acr, claimsRequest: claimsRequest, expiresAt: now.addingTimeInterval(TimeInterval(lifetime)),
            createdAt: now)]
        var refresh: String? = nil
        if withRefresh && subject != nil {
            let r = random.token(bits: 256)
            refresh = r
            records.append(TokenRecord(
                tokenHash: hasher.hash(r), id: newID(), kind: .refresh, clientID: auth.clientID, subject: subject, scopes: scopes,
                codeID: codeID, grantID: grantID, familyID: family, certificateThumbprint: binding,
                dpopJKT: auth.method == .none ? dpop : nil, profile: profile, authTime: authTime, acr: acr, claimsRequest: claimsRequest,
                expiresAt: now.addingTimeInterval(TimeInterval(service.lifetimes.refreshToken)), createdAt: now))
        }
        do { try await storage.saveTokens(records) } catch { throw OAuthError.failure(error, "save tokens") }
        // Theft detection may have revoked this lineage while the tokens were being written (the
        // same code or refresh token replayed in the same instant, see `LineageRevoker.revoke`).
        // This request still is the one that used the code or token, so it gets its answer
        // (RFC 6749 §4.1.2: the use that came second is refused, and what the first was given is
        // revoked): its tokens are dead at every use (the lineage marker), and no ID token is
        // signed for it, since a signed ID token cannot be recalled from whoever verifies it.
        let lineages = Lineage.of(codeID: codeID, familyID: family, grantID: grantID)
        let revokedMeanwhile = try await lineage.isRevoked(lineages)
        if revokedMeanwhile {
            for r in records { _ = try? await storage.revokeToken(hash: r.tokenHash, at: now) }
        }
        var body: [String: JSONValue] = [
            "access_token": .string(accessToken), "token_type": .string(dpop != nil ? "DPoP" : "Bearer"), "expires_in": .number(Double(lifetime)),
            "scope": .string(scopes.joined(separator: " ")),
        ]
        if let refresh { body["refresh_token"] = .string(refresh) }
        if withIDToken, !revokedMeanwhile, let subject {
            body["id_token"] = .string(try await idToken(client: auth.client, subject: subject, nonce: nonce, authTime: authTime, acr: acr,
                                                              profile: profile, code: nil, state: nil, accessToken: accessToken,
                                                              claimsRequest: claimsRequest, scopes: scopes))
        }
        return body
    }

    /// An ID token (OIDC Core §2, §3.3.2.11): signed with the client's registered algorithm when the profile permits it.
    func idToken(client: Client, subject: String, nonce: String?, authTime: Date?, acr: String?, profile: Profile, code: String?,
                     state: String?, accessToken: String?, claimsRequest: JSONValue?, scopes: [String]) async throws(OAuthError) -> String {
        let alg = signer.algorithm(registered: client.metadata.idTokenSignedResponseAlg, offered: service.algorithms.idToken, profiles: [profile])
        var claims: [String: JSONValue] = [
            "iss": .string(issuer), "sub": .string(subject), "aud": .string(client.clientID),
            "iat": unixTime(now), "exp": unixTime(now.addingTimeInterval(TimeInterval(service.lifetimes.idToken))),
        ]
        if let nonce { claims["nonce"] = .string(nonce) }
        if let authTime { claims["auth_time"] = unixTime(authTime) }
        if let acr { claims["acr"] = .string(acr) }
        claims["amr"] = ["pwd"]
        if let code { claims["c_hash"] = .string(HalfHash.compute(code, algorithm: alg)) }
        if let state { claims["s_hash"] = .string(HalfHash.compute(state, algorithm: alg)) }
        if let accessToken { claims["at_hash"] = .string(HalfHash.compute(accessToken, algorithm: alg)) }
        // Claims asked for by name in the claims parameter's id_token section (OIDC Core §5.5).
        if let requested = claimsRequest?["id_token"]?.objectValue, let user = try? await storage.user(subject: subject) {
            for name in requested.keys where claims[name] == nil {
                if let v = user.claims[name] { claims[name] = v }
            }
        }
        return try signer.sign(claims, algorithm: alg)
    }
}
