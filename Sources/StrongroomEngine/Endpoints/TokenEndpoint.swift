import Crypto
import Foundation
import Logging
import StrongroomCore
import StrongroomJOSE
import StrongroomPolicy
import StrongroomStorage

extension Engine {
    /// POST /token (RFC 6749 §3.2, §4.1.3, §4.4, §6; OIDC Core §3.1.3; RFC 8705 §3; RFC 9449 §5).
    ///
    /// A `DPoP` proof is verified first, before the client authenticates: a request refused for a
    /// server nonce (`use_dpop_nonce`) spends neither the client's assertion nor the code.
    ///
    /// Rate limits (`limits.token`): a request that authenticates no client is counted against its
    /// address, and refused once the address has used its allowance; an authenticated one against
    /// its client (`admit`).
    public func token(_ request: TransportRequest) async -> EngineResponse {
        var profile: Profile? = nil
        var clientID: String? = nil
        if let refusal = limiter.check(.token, address: request.remoteAddress) {
            let e = tooManyRequests(refusal, from: "address")
            logRefusal(e, endpoint: "token", profile: nil, request: request)
            return .oauthError(e)
        }
        do {
            let form = try request.backChannelForm()
            let proof = try await dpopProof(request)
            let auth = try await clientAuthenticator.authenticate(request, form: form, endpointPath: EndpointPath.token)
            clientID = auth.clientID
            try admit(auth, at: .token, request: request)
            if auth.client.metadata.dpopBoundAccessTokens && proof == nil {
                throw OAuthError(.invalidDPoPProof, "a DPoP proof is required: this client's access tokens are DPoP-bound",
                                 rule: "RFC 9449 sec. 5.2 (dpop_bound_access_tokens)")
            }
            guard let grantType = try form.single("grant_type") else { throw OAuthError.invalidRequest("grant_type is required") }
            guard let grant = GrantType(rawValue: grantType), service.grantTypes.contains(grant) else {
                throw OAuthError(.unsupportedGrantType, "grant_type \(ErrorText.quoted(grantType)) is not supported")
            }
            guard auth.client.metadata.grantTypes.contains(grant) else {
                throw OAuthError.unauthorizedClient("this client is not registered for grant_type \(ErrorText.quoted(grantType))")
            }
            let body: [String: JSONValue]
            switch grant {
            case .authorizationCode:
                (body, profile) = try await authorizationCodeGrant(form, auth: auth, proof: proof)
            case .refreshToken:
                (body, profile) = try await refreshTokenGrant(form, auth: auth, proof: proof)
            case .clientCredentials:
                (body, profile) = try await clientCredentialsGrant(form, auth: auth, proof: proof)
            }
            return withDPoPNonce(.json(.object(body)))
        } catch let raw {
            if clientID == nil { _ = limiter.take(.token, address: request.remoteAddress) }
            let error = OAuthError.wrap(raw)
            logRefusal(error, endpoint: "token", profile: profile, request: request, clientID: clientID)
            return withDPoPNonce(.oauthError(error))
        }
    }

    /// Every profile a token request falls under: the ones its scopes select for this client (as
    /// at the authorization endpoint) and the one recorded when the code or token was issued.
    func profiles(scopes: [String], client: ClientMetadata, recorded: Profile) -> Set<Profile> {
        var set = selector().select(scopes: scopes, client: client).profiles
        set.insert(recorded)
        if set.count > 1 { set.remove(.oauth) }
        return set
    }

    /// The certificate thumbprint a token is bound to, if any (RFC 8705 §3): the rules' token
    /// face refuses a request that must be sender-constrained and cannot be; a client that asked
    /// for certificate-bound tokens gets them whatever its profile. A DPoP proof binds the token
    /// to its key instead where the rules take DPoP as the sender constraint (FAPI 2.0).
    func certificateBinding(_ auth: AuthenticatedClient, profiles: Set<Profile>, proof: DPoPProof?) throws(OAuthError) -> String? {
        let set = rules(profiles)
        try set.checkTokenRequest(TokenRequestFacts(certificatePresented: auth.certificate != nil, dpopProofPresented: proof != nil))
        let wanted = service.tlsClientCertificateBoundAccessTokens && auth.client.metadata.tlsClientCertificateBoundAccessTokens
        guard wanted || set.requirements.requireSenderConstrainedTokens else { return nil }
        if !wanted, proof != nil,
           (try? set.checkTokenRequest(TokenRequestFacts(certificatePresented: false, dpopProofPresented: true))) != nil {
            return nil
        }
        guard let cert = auth.certificate else {
            throw OAuthError.invalidRequest("a TLS client certificate is required: access tokens for this client are certificate-bound",
                                            rule: "RFC 8705 §3 (tls_client_certificate_bound_access_tokens)")
        }
        return cert.thumbprintS256
    }

    /// Whether a refresh rotates the token: the service must rotate at all; then the client's
    /// operator setting decides, and without one the request's profiles (FAPI 2.0 does not rotate).
    func refreshTokensRotate(_ client: ClientMetadata, profiles: Set<Profile>) -> Bool {
        guard service.refreshTokenRotation else { return false }
        return client.refreshTokenRotation ?? rules(profiles).requirements.refreshTokenRotation
    }

    func authorizationCodeGrant(_ form: [Param], auth: AuthenticatedClient, proof: DPoPProof?) async throws(OAuthError) -> ([String: JSONValue], Profile) {
        guard let code = try form.single("code"), !code.isEmpty else { throw OAuthError.invalidRequest("code is required") }
        guard code.count <= 512 else { throw OAuthError.invalidGrant("the authorization code is invalid") }
        let redemption: CodeRedemption
        do { redemption = try await storage.redeemCode(hash: hasher.hash(code), clientID: auth.clientID, at: now) } catch {
            throw OAuthError.failure(error, "redeem")
        }
        let record: AuthorizationCodeRecord
        switch redemption {
        case .unknown:
            throw OAuthError.invalidGrant("the authorization code is invalid")
        case .otherClient:
            throw OAuthError.invalidGrant("the authorization code was issued to another client")
        case .replayed(let r):
            // RFC 6749 §4.1.2 / RFC 9700 §4.5: a reused code revokes what it issued.
            let n = await lineage.revoke(.code(r.id))
            logger.warning("authorization code replayed; tokens revoked", metadata: ["client_id": "\(r.clientID)", "revoked": "\(n)"])
            throw OAuthError.invalidGrant("the authorization code has already been used")
        case .redeemed(let r):
            record = r
        }
        guard record.expiresAt > now else { throw OAuthError.invalidGrant("the authorization code has expired") }
        let redirect = try form.single("redirect_uri")
        // RFC 6749 §4.1.3: required, and identical, when the authorization request carried one.
        if let expected = record.redirectURI {
            guard redirect == expected else { throw OAuthError.invalidGrant("redirect_uri does not match the authorization request") }
        }
        let verifier = try form.single("code_verifier")
        if let challenge = record.codeChallenge {
            guard let verifier else { throw OAuthError.invalidGrant("code_verifier is required") }
            guard (43...128).contains(verifier.count),
                  verifier.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-._~".contains($0)) }) else {
                throw OAuthError.invalidGrant("code_verifier is malformed")
            }
            let computed = record.codeChallengeMethod == "S256"
                ? Base64URL.encode(Array(SHA256.hash(data: Data(verifier.utf8))))
                : verifier
            guard constantTimeEquals(computed, challenge) else { throw OAuthError.invalidGrant("code_verifier does not match the code_challenge") }
        } else if verifier != nil {
            throw OAuthError.invalidGrant("code_verifier was sent but no code_challenge was in the authorization request")
        }
        // RFC 9449 §10: a code bound to a DPoP key (dpop_jkt, or the proof sent to /par) is
        // redeemed only with a proof by that key.
        switch DPoPBinding.check(bound: record.dpopJKT, presented: proof) {
        case .satisfied: break
        case .missing: throw OAuthError(.invalidDPoPProof, "a DPoP proof is required: the authorization code is DPoP-bound")
        case .other: throw OAuthError(.invalidDPoPProof, "the DPoP proof's key is not the one the authorization code is bound to (dpop_jkt)")
        }
        let selected = profiles(scopes: record.scopes, client: auth.client.metadata, recorded: record.profile)
        try clientAuthenticator.enforce(auth, profiles: selected)
        let binding = try certificateBinding(auth, profiles: selected, proof: proof)
        if let grantID = record.grantID, let grant = try? await storage.grant(id: grantID), grant.revokedAt != nil {
            throw OAuthError.invalidGrant("the user has revoked this authorization")
        }
        return (try await tokenIssuer.issue(auth: auth, subject: record.subject, scopes: record.scopes, codeID: record.id, grantID: record.grantID,
                                      familyID: nil, binding: binding, dpop: proof?.thumbprint, profile: record.profile,
                                      authTime: record.authTime, acr: record.acr,
                                      nonce: record.nonce, claimsRequest: record.claimsRequest, withIDToken: record.scopes.contains("openid"),
                                      withRefresh: auth.client.metadata.grantTypes.contains(.refreshToken)), record.profile)
    }

    func refreshTokenGrant(_ form: [Param], auth: AuthenticatedClient, proof: DPoPProof?) async throws(OAuthError) -> ([String: JSONValue], Profile) {
        guard let token = try form.single("refresh_token"), !token.isEmpty, token.count <= 512 else {
            throw OAuthError.invalidRequest("refresh_token is required")
        }
        let hash = hasher.hash(token)
        let record: TokenRecord
        do {
            guard let r = try await storage.token(hash: hash), r.kind == .refresh else { throw OAuthError.invalidGrant("the refresh token is invalid") }
            record = r
        } catch let e as OAuthError { throw e } catch { throw OAuthError.failure(error, "refresh") }
        guard record.clientID == auth.clientID else { throw OAuthError.invalidGrant("the refresh token was issued to another client") }
        guard record.revokedAt == nil, record.expiresAt > now else { throw OAuthError.invalidGrant("the refresh token is no longer valid") }
        if try await lineage.isRevoked(Lineage.of(codeID: record.codeID, familyID: record.familyID, grantID: record.grantID)) {
            throw OAuthError.invalidGrant("the refresh token is no longer valid")
        }
        let selected = profiles(scopes: record.scopes, client: auth.client.metadata, recorded: record.profile)
        try clientAuthenticator.enforce(auth, profiles: selected)
        // Scope narrowing only (RFC 6749 §6).
        var scopes = record.scopes
        if let requested = try form.single("scope") {
            let asked = parseScopes(requested)
            guard Set(asked).isSubset(of: Set(record.scopes)) else { throw OAuthError.invalidScope("the requested scope exceeds the original grant") }
            scopes = asked
        }
        // Refresh tokens of certificate-bound clients are bound to the same certificate (RFC 8705 §4 for public clients; applied to all).
        switch CertificateBinding.check(bound: record.certificateThumbprint, presented: auth.certificate) {
        case .satisfied: break
        case .missing: throw OAuthError.invalidGrant("the refresh token is certificate-bound: present the client certificate")
        case .other: throw OAuthError.invalidGrant("the refresh token is bound to another certificate")
        }
        // RFC 9449 §5: a public client's refresh token is bound to its DPoP key.
        switch DPoPBinding.check(bound: record.dpopJKT, presented: proof) {
        case .satisfied: break
        case .missing: throw OAuthError(.invalidDPoPProof, "a DPoP proof is required: the refresh token is DPoP-bound")
        case .other: throw OAuthError(.invalidDPoPProof, "the DPoP proof's key is not the one the refresh token is bound to")
        }
        // A consent the user withdrew ends its refresh tokens too (besides the lineage marker).
        if let grantID = record.grantID, let grant = try? await storage.grant(id: grantID), grant.revokedAt != nil {
            throw OAuthError.invalidGrant("the user has revoked this authorization")
        }
        let rotate = refreshTokensRotate(auth.client.metadata, profiles: selected)
        if rotate {
            let rotation: RefreshRotation
            do { rotation = try await storage.rotateRefreshToken(hash: hash, at: now) } catch { throw OAuthError.failure(error, "rotate") }
            switch rotation {
            case .rotated: break
            case .replayed(let r):
                let n = await lineage.revoke(.family(r.familyID))
                logger.warning("rotated-out refresh token replayed; family revoked", metadata: ["client_id": "\(r.clientID)", "revoked": "\(n)"])
                throw OAuthError.invalidGrant("the refresh token has already been used")
            case .unknown:
                throw OAuthError.invalidGrant("the refresh token is invalid")
            }
        }
        let binding = try certificateBinding(auth, profiles: selected, proof: proof)
        let body = try await tokenIssuer.issue(auth: auth, subject: record.subject, scopes: scopes, codeID: record.codeID, grantID: record.grantID,
                                         familyID: record.familyID, binding: binding, dpop: proof?.thumbprint, profile: record.profile,
                                         authTime: record.authTime,
                                         acr: record.acr, nonce: nil, claimsRequest: record.claimsRequest,
                                         withIDToken: scopes.contains("openid") && record.subject != nil,
                                         withRefresh: rotate)
        return (body, record.profile)
    }

    func clientCredentialsGrant(_ form: [Param], auth: AuthenticatedClient, proof: DPoPProof?) async throws(OAuthError) -> ([String: JSONValue], Profile) {
        guard auth.method != .none else { throw OAuthError.unauthorizedClient("public clients cannot use client_credentials") }
        var scopes = parseScopes(try form.single("scope"))
        if scopes.isEmpty { scopes = (auth.client.metadata.allowedScopes ?? []).filter { $0 != "openid" && $0 != "offline_access" } }
        for s in scopes {
            guard service.scope(named: s) != nil else { throw OAuthError.invalidScope("scope \(ErrorText.quoted(s)) is not supported") }
            if let allowed = auth.client.metadata.allowedScopes, !allowed.contains(s) { throw OAuthError.invalidScope("scope \(ErrorText.quoted(s)) is not allowed for this client") }
            if s == "openid" { throw OAuthError.invalidScope("openid cannot be requested with client_credentials") }
        }
        let decision = selector().select(scopes: scopes, client: auth.client.metadata)
        let profile = decision.profile
        try clientAuthenticator.enforce(auth, profiles: decision.profiles)
        let binding = try certificateBinding(auth, profiles: decision.profiles, proof: proof)
        return (try await tokenIssuer.issue(auth: auth, subject: nil, scopes: scopes, codeID: nil, grantID: nil, familyID: nil, binding: binding,
                                      dpop: proof?.thumbprint, profile: profile, authTime: nil, acr: nil, nonce: nil, claimsRequest: nil, withIDToken: false,
                                      withRefresh: false), profile)
    }
}
