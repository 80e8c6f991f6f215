import Foundation
import Testing
@testable import StrongroomCore
@testable import StrongroomPolicy

/// Every authorization check: one request that passes and one refused with the exact error.
@Suite struct PolicyChecksTests {
    static let issuer = "https://as.example"
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func facts(
        client: ClientMetadata = ClientMetadata(redirectURIs: ["https://rp.example/cb"], tokenEndpointAuthMethod: .privateKeyJWT),
        responseType: ResponseType = .codeIDToken, responseMode: ResponseMode? = nil,
        redirectPresent: Bool = true, redirectURI: String = "https://rp.example/cb", scopes: [String] = ["openid", "payments"],
        state: String? = "s", nonce: String? = "n", challenge: String? = String(repeating: "a", count: 43), method: String? = "S256",
        viaPAR: Bool = false, ro: RequestObjectFacts? = RequestObjectFacts(algorithm: .ps256, exp: now + 300, nbf: now - 10, audiences: [issuer], issuer: nil,
                                                     claimNames: ["scope", "response_type", "redirect_uri"])
    ) -> AuthorizationFacts {
        AuthorizationFacts(clientID: "c", client: client, responseType: responseType, responseMode: responseMode,
                           redirectURIPresent: redirectPresent, redirectURI: redirectURI, scopes: scopes, state: state, nonce: nonce,
                           codeChallenge: challenge, codeChallengeMethod: method, viaPAR: viaPAR, requestObject: ro, now: now, clockSkew: 10)
    }

    func refusal(_ rule: some Rule, _ f: AuthorizationFacts) -> OAuthError? {
        do { try rule.checkAuthorization(f); return nil } catch { return error }
    }

    @Test func redirectURIRequired() {
        #expect(refusal(RequireRedirectURIInRequest(), Self.facts()) == nil)
        let e = refusal(RequireRedirectURIInRequest(), Self.facts(redirectPresent: false))
        #expect(e?.code == .invalidRequest)
        #expect(e?.rule?.contains("FAPI 1.0 Part 1") == true)
    }

    @Test func httpsRedirect() {
        #expect(refusal(RequireHTTPSRedirectURI(), Self.facts()) == nil)
        #expect(refusal(RequireHTTPSRedirectURI(), Self.facts(redirectURI: "http://rp.example/cb"))?.code == .invalidRequest)
    }

    @Test func pkceRequiredS256() {
        let check = RequirePKCES256(.requiredS256)
        #expect(refusal(check, Self.facts()) == nil)
        #expect(refusal(check, Self.facts(challenge: nil, method: nil))?.code == .invalidRequest)
        #expect(refusal(check, Self.facts(method: "plain"))?.code == .invalidRequest)
        #expect(refusal(check, Self.facts(method: nil))?.code == .invalidRequest)
        #expect(refusal(check, Self.facts(challenge: "short"))?.code == .invalidRequest)
    }

    @Test func pkceAdvancedOnlyForPublicOrPAR() {
        let check = RequirePKCES256(.requiredS256ForPublicOrPAR)
        #expect(refusal(check, Self.facts(challenge: nil, method: nil)) == nil)
        #expect(refusal(check, Self.facts(challenge: nil, method: nil, viaPAR: true))?.code == .invalidRequest)
        let pub = ClientMetadata(redirectURIs: ["https://rp.example/cb"], tokenEndpointAuthMethod: .none)
        #expect(refusal(check, Self.facts(client: pub, challenge: nil, method: nil))?.code == .invalidRequest)
        #expect(refusal(check, Self.facts(method: "plain"))?.code == .invalidRequest)
    }

    @Test func pkceOptionalAllowsPlain() {
        let check = RequirePKCES256(.optional)
        #expect(refusal(check, Self.facts(challenge: nil, method: nil)) == nil)
        #expect(refusal(check, Self.facts(method: "plain")) == nil)
        #expect(refusal(check, Self.facts(method: "S512"))?.code == .invalidRequest)
    }

    @Test func stateWithoutOpenID() {
        #expect(refusal(RequireStateWithoutOpenID(), Self.facts(scopes: ["accounts"])) == nil)
        #expect(refusal(RequireStateWithoutOpenID(), Self.facts(scopes: ["openid"], state: nil)) == nil)
        #expect(refusal(RequireStateWithoutOpenID(), Self.facts(scopes: ["accounts"], state: nil))?.code == .invalidRequest)
    }

    @Test func nonceForFrontChannelIDToken() {
        #expect(refusal(RequireNonceForFrontChannelIDToken(), Self.facts()) == nil)
        #expect(refusal(RequireNonceForFrontChannelIDToken(), Self.facts(responseType: .code, nonce: nil)) == nil)
        #expect(refusal(RequireNonceForFrontChannelIDToken(), Self.facts(nonce: nil))?.code == .invalidRequest)
    }

    @Test func nonceWithOpenID() {
        #expect(refusal(RequireNonceWithOpenID(), Self.facts(responseType: .code)) == nil)
        #expect(refusal(RequireNonceWithOpenID(), Self.facts(responseType: .code, scopes: ["accounts"], nonce: nil)) == nil)
        #expect(refusal(RequireNonceWithOpenID(), Self.facts(responseType: .code, scopes: ["openid", "accounts"], nonce: nil))?.code == .invalidRequest)
    }

    @Test func signedRequestObjectRequired() {
        #expect(refusal(RequireSignedRequestObject(), Self.facts()) == nil)
        #expect(refusal(RequireSignedRequestObject(), Self.facts(ro: nil))?.code == .invalidRequest)
        // FAPI 1.0 Part 2 §5.2.2-10: scope too comes from the request object.
        let noScope = RequestObjectFacts(algorithm: .ps256, exp: Self.now + 300, nbf: Self.now - 10, audiences: [Self.issuer], issuer: nil,
                                         claimNames: ["response_type"])
        let e = refusal(RequireSignedRequestObject(), Self.facts(ro: noScope))
        #expect(e?.code == .invalidRequestObject && e?.errorDescription == "the request object must contain scope")
    }

    @Test func requestObjectExp() {
        let now = Self.now
        #expect(refusal(RequireRequestObjectExp(), Self.facts()) == nil)
        #expect(refusal(RequireRequestObjectExp(), Self.facts(ro: .init(algorithm: .ps256, exp: nil, nbf: now, audiences: [Self.issuer], issuer: nil)))?.code == .invalidRequestObject)
        #expect(refusal(RequireRequestObjectExp(), Self.facts(ro: .init(algorithm: .ps256, exp: now - 60, nbf: now - 120, audiences: [Self.issuer], issuer: nil)))?.code == .invalidRequestObject)
    }

    @Test func requestObjectNbf() {
        let now = Self.now
        let check = RequireRequestObjectNbf(maxAge: 3600)
        #expect(refusal(check, Self.facts()) == nil)
        #expect(refusal(check, Self.facts(ro: .init(algorithm: .ps256, exp: now + 60, nbf: nil, audiences: [Self.issuer], issuer: nil)))?.code == .invalidRequestObject)
        #expect(refusal(check, Self.facts(ro: .init(algorithm: .ps256, exp: now + 60, nbf: now - 4200, audiences: [Self.issuer], issuer: nil)))?.code == .invalidRequestObject)
        #expect(refusal(check, Self.facts(ro: .init(algorithm: .ps256, exp: now + 60, nbf: now + 600, audiences: [Self.issuer], issuer: nil)))?.code == .invalidRequestObject)
        // Edge: 59 minutes old is fine.
        #expect(refusal(check, Self.facts(ro: .init(algorithm: .ps256, exp: now + 60, nbf: now - 3540, audiences: [Self.issuer], issuer: nil))) == nil)
    }

    @Test func requestObjectLifetime() {
        let now = Self.now
        let check = RequireRequestObjectLifetime(maxLifetime: 3600)
        #expect(refusal(check, Self.facts(ro: .init(algorithm: .ps256, exp: now + 3500, nbf: now - 100, audiences: [Self.issuer], issuer: nil))) == nil)
        #expect(refusal(check, Self.facts(ro: .init(algorithm: .ps256, exp: now + 3600, nbf: now - 100, audiences: [Self.issuer], issuer: nil)))?.code == .invalidRequestObject)
    }

    @Test func requestObjectAudience() {
        let now = Self.now
        let check = RequireRequestObjectAudience(issuer: Self.issuer)
        #expect(refusal(check, Self.facts()) == nil)
        #expect(refusal(check, Self.facts(ro: .init(algorithm: .ps256, exp: now + 60, nbf: now, audiences: ["x", Self.issuer], issuer: nil))) == nil)
        #expect(refusal(check, Self.facts(ro: .init(algorithm: .ps256, exp: now + 60, nbf: now, audiences: [], issuer: nil)))?.code == .invalidRequestObject)
        #expect(refusal(check, Self.facts(ro: .init(algorithm: .ps256, exp: now + 60, nbf: now, audiences: ["https://evil.example"], issuer: nil)))?.code == .invalidRequestObject)
    }

    @Test func requestObjectAlgorithm() {
        let now = Self.now
        let check = RequireRequestObjectAlgorithm(allowed: [.ps256, .es256])
        #expect(refusal(check, Self.facts()) == nil)
        #expect(refusal(check, Self.facts(ro: .init(algorithm: .rs256, exp: now + 60, nbf: now, audiences: [Self.issuer], issuer: nil)))?.code == .invalidRequestObject)
    }

    @Test func advancedResponseType() {
        let check = RequireProfileResponseType(allowed: [.codeIDToken, .code], codeRequiresJARM: true, clause: "FAPI 1.0 Part 2 §5.2.2-2")
        #expect(refusal(check, Self.facts()) == nil)
        #expect(refusal(check, Self.facts(responseType: .code, responseMode: .jwt)) == nil)
        #expect(refusal(check, Self.facts(responseType: .code))?.code == .invalidRequest)
        #expect(refusal(check, Self.facts(responseType: .idToken))?.code == .unsupportedResponseType)
    }

    @Test func publicClientsRejected() {
        let check = RejectPublicClients(clause: "FAPI 1.0 Part 2 §5.2.2-16")
        #expect(refusal(check, Self.facts()) == nil)
        let pub = ClientMetadata(redirectURIs: ["https://rp.example/cb"], tokenEndpointAuthMethod: .none)
        #expect(refusal(check, Self.facts(client: pub))?.code == .unauthorizedClient)
    }

    @Test func parRequired() {
        #expect(refusal(RequirePushedAuthorizationRequest(), Self.facts(viaPAR: true)) == nil)
        #expect(refusal(RequirePushedAuthorizationRequest(), Self.facts())?.code == .invalidRequest)
    }

    @Test func openIDForIDToken() {
        #expect(refusal(RequireOpenIDForIDToken(), Self.facts()) == nil)
        #expect(refusal(RequireOpenIDForIDToken(), Self.facts(scopes: ["payments"]))?.code == .invalidRequest)
    }

    /// `r` demands at least what `a` demands, field by field.
    static func atLeastAsStrict(_ r: ProfileRequirements, _ a: ProfileRequirements) -> [String] {
        var loosened: [String] = []
        func need(_ ok: Bool, _ field: String) { if !ok { loosened.append(field) } }
        let all = JWSAlgorithm.allCases
        need(Set(r.clientAuthMethods).isSubset(of: Set(a.clientAuthMethods)), "clientAuthMethods")
        need(a.allowsPublicClients || !r.allowsPublicClients, "allowsPublicClients")
        need(Set(r.signingAlgorithms ?? all).isSubset(of: Set(a.signingAlgorithms ?? all)), "signingAlgorithms")
        need(r.minimumRSABits >= a.minimumRSABits && r.minimumECBits >= a.minimumECBits, "key sizes")
        for (name, kp) in [("requireHTTPSRedirectURIs", \ProfileRequirements.requireHTTPSRedirectURIs),
                           ("requireRedirectURIInRequest", \.requireRedirectURIInRequest),
                           ("requireStateWithoutOpenID", \.requireStateWithoutOpenID),
                           ("requireNonceForFrontChannelIDToken", \.requireNonceForFrontChannelIDToken),
                           ("requireNonceWithOpenID", \.requireNonceWithOpenID), ("requireSignedRequestObject", \.requireSignedRequestObject),
                           ("codeRequiresJARM", \.codeRequiresJARM), ("requireSenderConstrainedTokens", \.requireSenderConstrainedTokens),
                           ("requirePAR", \.requirePAR), ("assertionAudienceMustBeIssuer", \.assertionAudienceMustBeIssuer),
                           ("requireIssResponseParameter", \.requireIssResponseParameter)] {
            need(!a[keyPath: kp] || r[keyPath: kp], name)
        }
        func rank(_ p: ProfileRequirements.PKCE) -> Int { p == .requiredS256 ? 2 : p == .requiredS256ForPublicOrPAR ? 1 : 0 }
        need(rank(r.pkce) >= rank(a.pkce), "pkce")
        if let limit = a.requestObjectMaxLifetime { need((r.requestObjectMaxLifetime ?? .max) <= limit, "requestObjectMaxLifetime") }
        if let limit = a.maxCodeLifetime { need((r.maxCodeLifetime ?? .max) <= limit, "maxCodeLifetime") }
        need(Set(r.responseTypes ?? ResponseType.allCases).isSubset(of: Set(a.responseTypes ?? ResponseType.allCases)), "responseTypes")
        need(a.refreshTokenRotation || !r.refreshTokenRotation, "refreshTokenRotation")
        return loosened
    }

    /// Item 11 / "profiles only tighten": a request selecting several profiles gets every rule of
    /// each one (checks by name and requirements field by field), for every pair of profiles.
    @Test(arguments: Profile.allCases)
    func profilesOnlyTighten(_ profile: Profile) {
        let service = ServiceSettings(issuer: Self.issuer)
        func names(_ set: Set<Profile>) -> Set<String> { Set(AuthorizationProfile.checks(for: set, service: service).names) }
        // Every profile keeps the checks every request gets.
        #expect(names([profile]).isSuperset(of: names([.oauth])), "\(profile)")
        #expect(names([profile]).isSuperset(of: ["RequirePKCEForPublicClients", "RequirePKCES256", "RefusePlainPKCEUnlessAllowed", "RequireOpenIDForIDToken"]))
        for other in Profile.allCases {
            let union = ProfileRequirements.union([profile, other])
            #expect(names([profile, other]).isSuperset(of: names([profile]).union(names([other]))), "\(profile) + \(other)")
            #expect(Self.atLeastAsStrict(union, .of(profile)) == [], "\(profile) + \(other) loosens \(profile)")
            #expect(Self.atLeastAsStrict(union, .of(other)) == [], "\(profile) + \(other) loosens \(other)")
            #expect(union.profile == max(profile, other))
        }
        if profile == .fapi1Advanced {
            #expect(names([profile]).isSuperset(of: ["RequireSignedRequestObject", "RequireRequestObjectExp", "RequireRequestObjectNbf",
                                                     "RequireRequestObjectLifetime", "RequireRequestObjectAudience", "RejectPublicClients",
                                                     "RequireProfileResponseType", "RequireRequestObjectAlgorithm"]))
        }
    }

    /// Baseline needs PKCE for every code request, Advanced only for PAR or public clients: a
    /// request selecting both needs it always (the union), not Advanced's rule alone.
    @Test func baselineAndAdvancedTogetherNeedPKCE() {
        let service = ServiceSettings(issuer: Self.issuer)
        let advancedOnly = AuthorizationProfile.checks(for: [.fapi1Advanced], service: service)
        let both = AuthorizationProfile.checks(for: [.fapi1Advanced, .fapi1Baseline], service: service)
        let noPKCE = Self.facts(scopes: ["openid", "accounts", "payments"], challenge: nil, method: nil)
        #expect(throws: Never.self) { try advancedOnly.evaluate(noPKCE) }
        #expect(throws: OAuthError.self) { try both.evaluate(noPKCE) }
        do { try both.evaluate(noPKCE) } catch {
            #expect(error.code == .invalidRequest && error.errorDescription == "code_challenge is required (PKCE with S256)")
        }
        #expect(throws: Never.self) { try both.evaluate(Self.facts(scopes: ["openid", "accounts", "payments"])) }
    }
}

/// Runtime profile selection (reference "How to use FAPI feature", steps 1–2).
@Suite struct PolicyProfileSelectorTests {
    static func service() -> ServiceSettings {
        var s = ServiceSettings(issuer: "https://as.example")
        s.scopes += [
            ScopeDefinition(name: "accounts", attributes: [ScopeAttribute(key: "fapi", value: "r")]),
            ScopeDefinition(name: "payments", attributes: [ScopeAttribute(key: "fapi", value: "rw")]),
        ]
        return s
    }

    @Test func scopeAttributesDecide() {
        let sel = ProfileSelector(service: Self.service())
        #expect(sel.select(scopes: ["openid", "profile"], client: nil).profile == .oauth)
        #expect(sel.select(scopes: ["openid", "accounts"], client: nil).profile == .fapi1Baseline)
        #expect(sel.select(scopes: ["openid", "payments"], client: nil).profile == .fapi1Advanced)
        // Strictest wins.
        let both = sel.select(scopes: ["accounts", "payments"], client: nil)
        #expect(both.profile == .fapi1Advanced)
        #expect(both.reason.contains("payments"))
        #expect(sel.select(scopes: ["unknown"], client: nil).profile == .oauth)
    }

    @Test func clientForcedProfileIsOnlyAFloor() {
        var client = ClientMetadata()
        client.forcedProfile = .oauth
        let d = ProfileSelector(service: Self.service()).select(scopes: ["openid", "payments"], client: client)
        #expect(d.profile == .fapi1Advanced)
        #expect(ProfileSelector(service: Self.service()).profiles(for: client).contains(.fapi1Advanced))
    }

    @Test func forcedProfilesTakePrecedence() {
        var s = Self.service()
        var client = ClientMetadata()
        client.forcedProfile = .fapi1Advanced
        #expect(ProfileSelector(service: s).select(scopes: ["openid"], client: client).profile == .fapi1Advanced)
        s.forcedProfile = .fapi1Baseline
        let d = ProfileSelector(service: s).select(scopes: ["payments"], client: client)
        #expect(d.profile == .fapi1Baseline)
        #expect(d.reason == "service forced")
    }
}

/// Configuration-time client checks come from the same requirements as the request checks.
@Suite struct PolicyClientConformanceTests {
    func advancedClient() -> ClientMetadata {
        var m = ClientMetadata(redirectURIs: ["https://rp.example/cb"], tokenEndpointAuthMethod: .privateKeyJWT,
                               tokenEndpointAuthSigningAlg: .ps256, grantTypes: [.authorizationCode], responseTypes: [.codeIDToken],
                               scope: "openid payments", jwks: ["keys": []], tlsClientCertificateBoundAccessTokens: true,
                               requestObjectSigningAlg: .ps256, idTokenSignedResponseAlg: .ps256)
        m.authorizationSignedResponseAlg = .ps256
        return m
    }

    @Test func conformantAdvancedClientPasses() {
        let v = ClientConformance(service: PolicyProfileSelectorTests.service()).violations(of: advancedClient())
        #expect(v.isEmpty, "\(v)")
    }

    @Test func httpRedirectRefusedWithRule() {
        var m = advancedClient()
        m.redirectURIs = ["http://rp.example/cb"]
        let v = ClientConformance(service: PolicyProfileSelectorTests.service()).violations(of: m)
        #expect(v.contains { $0.field == "redirect_uris" && $0.message.contains("FAPI 1.0 Part 1 §5.2.2-20") })
    }

    @Test(arguments: ["javascript:alert(1)//", "data:text/html,x", "file:///etc/passwd", "https://rp.example/cb\r\nX: 1", "https://rp.example/c b"])
    func dangerousRedirectURIsRefused(_ uri: String) {
        var m = ClientMetadata(redirectURIs: [uri], tokenEndpointAuthMethod: .clientSecretBasic, scope: "openid")
        m.scope = "openid"
        let v = ClientConformance(service: PolicyProfileSelectorTests.service()).violations(of: m)
        #expect(v.contains { $0.field == "redirect_uris" }, "\(uri) accepted")
        m.redirectURIs = ["https://rp.example/cb"]
        #expect(ClientConformance(service: PolicyProfileSelectorTests.service()).violations(of: m).isEmpty)
    }

    @Test func rs256RequestObjectRefusedForReadWrite() {
        var m = advancedClient()
        m.requestObjectSigningAlg = .rs256
        var s = PolicyProfileSelectorTests.service()
        s.algorithms.requestObject.append(.rs256)
        let v = ClientConformance(service: s).violations(of: m)
        #expect(v.contains { $0.field == "request_object_signing_alg" && $0.message.contains("RS256 not allowed") && $0.message.contains("PS256 or ES256") })
    }

    @Test func secretBasicRefusedForFAPIButFineForPlain() {
        var m = advancedClient()
        m.tokenEndpointAuthMethod = .clientSecretBasic
        m.tokenEndpointAuthSigningAlg = nil
        let s = PolicyProfileSelectorTests.service()
        #expect(ClientConformance(service: s).violations(of: m).contains { $0.field == "token_endpoint_auth_method" })
        m.scope = "openid profile"
        m.tlsClientCertificateBoundAccessTokens = false
        m.responseTypes = [.code]
        #expect(ClientConformance(service: s).violations(of: m).isEmpty)
    }

    @Test func certificateBindingAndPublicClients() {
        var m = advancedClient()
        m.tlsClientCertificateBoundAccessTokens = false
        let s = PolicyProfileSelectorTests.service()
        #expect(ClientConformance(service: s).violations(of: m).contains { $0.field == "tls_client_certificate_bound_access_tokens" })
        m = advancedClient()
        m.tokenEndpointAuthMethod = .none
        m.tokenEndpointAuthSigningAlg = nil
        #expect(ClientConformance(service: s).violations(of: m).contains { $0.message.contains("public clients") })
        // A public client is fine for read-only scopes.
        m.scope = "openid accounts"
        m.tlsClientCertificateBoundAccessTokens = false
        #expect(!ClientConformance(service: s).violations(of: m).contains { $0.message.contains("public clients") })
    }

    @Test func serviceChecks() {
        var s = PolicyProfileSelectorTests.service()
        #expect(ServiceConformance(service: s).violations().isEmpty)
        s.tlsClientCertificateBoundAccessTokens = false
        s.acrValues = []
        let v = ServiceConformance(service: s).violations()
        #expect(v.contains { $0.field == "tls_client_certificate_bound_access_tokens" })
        #expect(v.contains { $0.field == "acr_values" })
    }
}
