import Foundation
import Testing
@testable import StrongroomCore
@testable import StrongroomPolicy

/// The faces of the rules besides the authorization request: client authentication, token
/// requests, the resource API, and the configuration faces. One request that passes and one
/// refused with the exact error for each; the rule tag names the rule and its clause.
@Suite struct PolicyRuleFacesTests {
    static let issuer = "https://as.example"

    static func auth(_ method: ClientAuthMethod, alg: JWSAlgorithm? = nil, aud: [String] = [issuer],
                     audIsString: Bool = true) -> ClientAuthenticationFacts {
        ClientAuthenticationFacts(method: method, assertionAlgorithm: alg, assertionAudiences: aud, issuer: issuer,
                                  offeredAssertionAlgorithms: [.ps256, .es256, .rs256, .hs256], profileName: "FAPI 1.0 Advanced",
                                  assertionAudienceIsString: audIsString && aud.count == 1)
    }

    func refusal(_ body: () throws -> Void) -> OAuthError? {
        do { try body(); return nil } catch { return error as? OAuthError ?? OAuthError.serverError(detail: "\(error)") }
    }

    @Test func rejectPublicClientsAtClientAuthentication() {
        let rule = RejectPublicClients(clause: "FAPI 1.0 Part 2 §5.2.2-16")
        #expect(refusal { try rule.checkClientAuthentication(Self.auth(.privateKeyJWT, alg: .ps256)) } == nil)
        let e = refusal { try rule.checkClientAuthentication(Self.auth(.none)) }
        #expect(e?.code == .invalidClient && e?.status == 401)
        #expect(e?.errorDescription == "Public clients are not allowed for FAPI 1.0 Advanced.")
        #expect(e?.rule == "RejectPublicClients (FAPI 1.0 Part 2 §5.2.2-16)")
    }

    @Test func limitClientAuthMethods() {
        let rule = LimitClientAuthMethods([.privateKeyJWT, .tlsClientAuth], clause: "FAPI 1.0 Part 2 §5.2.2-14")
        #expect(refusal { try rule.checkClientAuthentication(Self.auth(.tlsClientAuth)) } == nil)
        #expect(refusal { try rule.checkClientAuthentication(Self.auth(.none)) } == nil, "public clients are RejectPublicClients' business")
        let e = refusal { try rule.checkClientAuthentication(Self.auth(.clientSecretBasic)) }
        #expect(e?.code == .invalidClient && e?.errorDescription == "client_secret_basic is not allowed for FAPI 1.0 Advanced.")
        let ctx = ConformanceContext(profile: .fapi1Advanced, service: ServiceSettings(issuer: Self.issuer), policy: .base)
        #expect(rule.violations(of: ClientMetadata(redirectURIs: [], tokenEndpointAuthMethod: .privateKeyJWT), ctx).isEmpty)
        #expect(rule.violations(of: ClientMetadata(redirectURIs: [], tokenEndpointAuthMethod: .clientSecretPost), ctx).map(\.field) == ["token_endpoint_auth_method"])
    }

    @Test func limitSigningAlgorithmsForAssertions() {
        let rule = LimitSigningAlgorithms([.ps256, .es256], clause: "FAPI 1.0 Part 2 §8.6")
        #expect(refusal { try rule.checkClientAuthentication(Self.auth(.privateKeyJWT, alg: .es256)) } == nil)
        #expect(refusal { try rule.checkClientAuthentication(Self.auth(.tlsClientAuth)) } == nil)
        let e = refusal { try rule.checkClientAuthentication(Self.auth(.privateKeyJWT, alg: .rs256)) }
        #expect(e?.code == .invalidClient && e?.errorDescription == "Client assertions signed with RS256 are not allowed for FAPI 1.0 Advanced.")
        var policy = ProfileRequirements.base
        rule.constrain(&policy)
        #expect(policy.signingAlgorithms == [.ps256, .es256])
    }

    @Test func assertionAudienceMustBeTheIssuerAlone() {
        let rule = RequireAssertionAudienceIssuer()
        #expect(refusal { try rule.checkClientAssertion(Self.auth(.privateKeyJWT, alg: .ps256, aud: [Self.issuer])) } == nil)
        let refused = [
            Self.auth(.privateKeyJWT, alg: .ps256, aud: [Self.issuer + "/token"]),
            Self.auth(.privateKeyJWT, alg: .ps256, aud: [Self.issuer, Self.issuer + "/token"]),
            // An array holding only the issuer is still not the single string the profile demands.
            Self.auth(.privateKeyJWT, alg: .ps256, aud: [Self.issuer], audIsString: false),
        ]
        for facts in refused {
            let e = refusal { try rule.checkClientAssertion(facts) }
            #expect(e?.code == .invalidClient && e?.errorDescription == "The client assertion's aud must be the issuer.")
        }
        // It is judged when the assertion is verified, not with the request's profile.
        #expect(refusal { try rule.checkClientAuthentication(Self.auth(.privateKeyJWT, alg: .ps256, aud: [Self.issuer + "/token"])) } == nil)
    }

    @Test func senderConstrainedTokensAtTheTokenEndpointAndTheResource() {
        let rule = RequireSenderConstrainedTokens(clause: "FAPI 1.0 Part 2 §5.2.2-5")
        #expect(refusal { try rule.checkTokenRequest(TokenRequestFacts(certificatePresented: true, dpopProofPresented: false)) } == nil)
        let t = refusal { try rule.checkTokenRequest(TokenRequestFacts(certificatePresented: false, dpopProofPresented: false)) }
        #expect(t?.code == .invalidRequest && t?.status == 400)
        #expect(refusal { try rule.checkResource(ResourceFacts(certificateBound: true, dpopBound: false)) } == nil)
        let r = refusal { try rule.checkResource(ResourceFacts(certificateBound: false, dpopBound: false)) }
        #expect(r?.code == .invalidToken && r?.status == 401)
    }

    @Test func codeLifetimeOnlyShortens() {
        var policy = ProfileRequirements.base
        LimitAuthorizationCodeLifetime(seconds: 60, clause: "FAPI 2.0 Security Profile §5.3.2.1-14").constrain(&policy)
        #expect(policy.maxCodeLifetime == 60)
        LimitAuthorizationCodeLifetime(seconds: 600, clause: "x").constrain(&policy)
        #expect(policy.maxCodeLifetime == 60)
        #expect(ProfileRequirements.of(.fapi2Security).maxCodeLifetime == 60)
        #expect(ProfileRequirements.of(.fapi1Advanced).maxCodeLifetime == nil)
    }

    /// Authlete's four FAPI 2.0 attribute values, and Message Signing as exactly the union of its
    /// request half and its response half on top of the Security Profile.
    @Test func fapi2AttributesAndMessageSigningHalves() {
        #expect(Profile.selected(byAttribute: "fapi2", value: "sp") == .fapi2Security)
        #expect(Profile.selected(byAttribute: "fapi2", value: "ms-authreq") == .fapi2SignedRequests)
        #expect(Profile.selected(byAttribute: "fapi2", value: "ms-authres") == .fapi2SignedResponses)
        #expect(Profile.selected(byAttribute: "fapi2", value: "ms") == .fapi2MessageSigning)
        #expect(Profile.selected(byAttribute: "fapi2", value: "msx") == nil)
        let service = ServiceSettings(issuer: Self.issuer)
        func names(_ p: Set<Profile>) -> Set<String> { Set(RuleSet(profiles: p, service: service).rules.map(\.identity)) }
        let sp = names([.fapi2Security]), req = names([.fapi2SignedRequests]), res = names([.fapi2SignedResponses])
        #expect(sp.isStrictSubset(of: req) && sp.isStrictSubset(of: res))
        #expect(names([.fapi2MessageSigning]) == req.union(res))
        #expect(RuleSet(profiles: [.fapi2SignedRequests], service: service).names.contains("RequireSignedRequestObject"))
        #expect(!RuleSet(profiles: [.fapi2SignedRequests], service: service).names.contains("RequireJARMResponseMode"))
        #expect(RuleSet(profiles: [.fapi2SignedResponses], service: service).names.contains("RequireJARMResponseMode"))
        #expect(!RuleSet(profiles: [.fapi2SignedResponses], service: service).names.contains("RequireSignedRequestObject"))
    }

    /// FAPI 2.0 takes DPoP or a certificate as the sender constraint; FAPI 1.0 a certificate only.
    @Test func fapi2AcceptsDPoPAsTheSenderConstraint() {
        let fapi2 = RequireSenderConstrainedTokens(clause: "FAPI 2.0 Security Profile §5.3.2.2-5", dpop: true)
        let fapi1 = RequireSenderConstrainedTokens(clause: "FAPI 1.0 Part 2 §5.2.2-5")
        let proofOnly = TokenRequestFacts(certificatePresented: false, dpopProofPresented: true)
        #expect(refusal { try fapi2.checkTokenRequest(proofOnly) } == nil)
        #expect(refusal { try fapi1.checkTokenRequest(proofOnly) }?.code == .invalidRequest)
        #expect(refusal { try fapi2.checkTokenRequest(TokenRequestFacts(certificatePresented: false, dpopProofPresented: false)) }?.code == .invalidRequest)
        #expect(refusal { try fapi2.checkResource(ResourceFacts(certificateBound: false, dpopBound: true)) } == nil)
        #expect(refusal { try fapi1.checkResource(ResourceFacts(certificateBound: false, dpopBound: true)) }?.code == .invalidToken)
        // With FAPI 1.0 Advanced and FAPI 2.0 selected together, the certificate is still required.
        let union = RuleSet(profiles: [.fapi1Advanced, .fapi2Security], service: ServiceSettings(issuer: Self.issuer))
        #expect(refusal { try union.checkTokenRequest(proofOnly) }?.code == .invalidRequest)
    }

    /// FAPI 2.0 Message Signing signs authorization responses: a request without a JARM mode is
    /// refused, a client without `authorization_signed_response_alg` is not registered.
    @Test func messageSigningRequiresJARM() {
        let service = ServiceSettings(issuer: Self.issuer)
        let rules = RuleSet(profiles: [.fapi2MessageSigning], service: service)
        #expect(rules.names.contains("RequireJARMResponseMode"))
        #expect(!RuleSet(profiles: [.fapi2Security], service: service).names.contains("RequireJARMResponseMode"))
        func facts(_ mode: ResponseMode?) -> AuthorizationFacts {
            AuthorizationFacts(clientID: "c", client: ClientMetadata(redirectURIs: ["https://rp.example/cb"], tokenEndpointAuthMethod: .privateKeyJWT),
                               responseType: .code, responseMode: mode, redirectURIPresent: true, redirectURI: "https://rp.example/cb",
                               scopes: ["openid"], state: "s", nonce: "n", codeChallenge: nil, codeChallengeMethod: nil, viaPAR: true,
                               requestObject: nil, now: Date(), clockSkew: 10)
        }
        let rule = RequireJARMResponseMode()
        #expect(refusal { try rule.checkAuthorization(facts(.jwt)) } == nil)
        let e = refusal { try rule.checkAuthorization(facts(.query)) }
        #expect(e?.code == .invalidRequest && e?.rule == "RequireJARMResponseMode (FAPI 2.0 Message Signing (signed authorization responses, JARM))")
        let ctx = ConformanceContext(profile: .fapi2MessageSigning, service: service, policy: rules.requirements)
        var client = ClientMetadata(redirectURIs: ["https://rp.example/cb"], tokenEndpointAuthMethod: .privateKeyJWT)
        #expect(rule.violations(of: client, ctx).map(\.field) == ["authorization_signed_response_alg"])
        client.authorizationSignedResponseAlg = .ps256
        #expect(rule.violations(of: client, ctx).isEmpty)
    }

    /// Every rule in every list carries a clause, and its refusals name it.
    @Test(arguments: Profile.allCases)
    func everyRuleNamesItsClause(_ profile: Profile) {
        for rule in ProfileRules.rules(for: profile, service: ServiceSettings(issuer: Self.issuer)) {
            #expect(!rule.clause.isEmpty, "\(rule.name)")
            #expect(rule.fail(.invalidRequest, "x").rule == "\(rule.name) (\(rule.clause))")
        }
    }

    @Test func aServiceWithoutWhatAProfileNeedsIsReported() {
        var s = ServiceSettings(issuer: Self.issuer)
        s.scopes.append(ScopeDefinition(name: "payments", attributes: [ScopeAttribute(key: "fapi", value: "rw")]))
        s.acrValues = []
        s.tlsClientCertificateBoundAccessTokens = false
        let fields = Set(ServiceConformance(service: s).violations().map(\.field))
        #expect(fields.isSuperset(of: ["acr_values", "tls_client_certificate_bound_access_tokens"]))
        s.acrValues = ["urn:mace:incommon:iap:silver"]
        s.tlsClientCertificateBoundAccessTokens = true
        #expect(ServiceConformance(service: s).violations().isEmpty)
    }

    /// FAPI 2.0: a `request_uri` lives less than 600 seconds (RFC 9126 allows 600 for others).
    @Test func fapi2PushedRequestsLiveLessThan600Seconds() {
        var s = ServiceSettings(issuer: Self.issuer)
        s.scopes.append(ScopeDefinition(name: "fapi2-accounts", attributes: [ScopeAttribute(key: "fapi2", value: "sp")]))
        s.lifetimes.pushedRequest = 599
        #expect(ServiceConformance(service: s).violations().isEmpty)
        s.lifetimes.pushedRequest = 600
        let v = ServiceConformance(service: s).violations()
        #expect(v.map(\.field) == ["lifetimes.pushed_request"])
        #expect(v.first?.message == "must be less than 600 seconds for FAPI 2.0 Security Profile (request_uri lifetime) (FAPI 2.0 Security Profile §5.3.2.2-2)")
        s.scopes.removeLast()
        #expect(ServiceConformance(service: s).violations().isEmpty)
    }
}
