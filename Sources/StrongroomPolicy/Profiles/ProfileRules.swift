import StrongroomCore

/// Each profile as a declarative list of rules, in the order they are evaluated. A new rule is
/// one file in `Rules/` plus one line here.
public enum ProfileRules {
    public static func rules(for profile: Profile, service: ServiceSettings) -> [any Rule] {
        switch profile {
        case .oauth: oauth(service)
        case .fapi1Baseline: fapi1Baseline(service)
        case .fapi1Advanced: fapi1Advanced(service)
        case .fapi2Security: fapi2Security(service)
        case .fapi2SignedRequests: fapi2SignedRequests(service)
        case .fapi2SignedResponses: fapi2SignedResponses(service)
        case .fapi2MessageSigning: fapi2MessageSigning(service)
        }
    }

    /// What every request meets, whatever its profile (last in every list).
    static func everyRequest(_ s: ServiceSettings) -> [any Rule] {
        [
            RequireOpenIDForIDToken(),
            RequirePKCEForPublicClients(),
            RefusePlainPKCEUnlessAllowed(allowPlain: s.allowPlainPKCE),
            RequireNonceForFrontChannelIDToken(),
            RequireValidRequestObjectClaims(issuer: s.issuer),
        ]
    }

    /// Plain OAuth 2.0 / OpenID Connect.
    static func oauth(_ s: ServiceSettings) -> [any Rule] {
        [
            LimitKeySizes(rsa: 2048, ec: 160, clause: "RFC 7518 §3.3"),
            RequirePKCES256(.optional),
        ] + everyRequest(s)
    }

    /// FAPI 1.0 Part 1 (Baseline) §5.2.2.
    static func fapi1Baseline(_ s: ServiceSettings) -> [any Rule] {
        [
            LimitClientAuthMethods([.privateKeyJWT, .clientSecretJWT, .tlsClientAuth, .selfSignedTLSClientAuth], clause: "FAPI 1.0 Part 1 §5.2.2-4"),
            LimitKeySizes(rsa: 2048, ec: 160, clause: "FAPI 1.0 Part 1 §5.2.2-5, -6"),
            RequireRedirectURIInRequest(),
            RequireHTTPSRedirectURI(),
            RequirePKCES256(.requiredS256),
            RequireStateWithoutOpenID(),
            RequireNonceWithOpenID(),
        ] + everyRequest(s)
    }

    /// The request-object rules of FAPI 1.0 Part 2 §5.2.2-1, -13, -15, -17 and §8.6 (also FAPI 2.0 Message Signing).
    static func signedRequestObject(_ s: ServiceSettings, algorithms: [JWSAlgorithm]) -> [any Rule] {
        let maxLifetime = min(3600, s.requestObjectMaxLifetime)
        return [
            RequireSignedRequestObject(),
            RequireRequestObjectAlgorithm(allowed: s.algorithms.requestObject.filter { $0 != .none && algorithms.contains($0) }),
            RequireRequestObjectExp(),
            RequireRequestObjectNbf(maxAge: maxLifetime),
            RequireRequestObjectLifetime(maxLifetime: maxLifetime),
            RequireRequestObjectAudience(issuer: s.issuer),
        ]
    }

    /// FAPI 1.0 Part 2 (Advanced) §5.2.2 and §8.6; Part 2 §5.2.2.0 takes over Part 1 §5.2.2 but PKCE.
    static func fapi1Advanced(_ s: ServiceSettings) -> [any Rule] {
        let algorithms: [JWSAlgorithm] = [.ps256, .es256]
        return [
            RejectPublicClients(clause: "FAPI 1.0 Part 2 §5.2.2-16"),
            LimitClientAuthMethods([.privateKeyJWT, .tlsClientAuth, .selfSignedTLSClientAuth], clause: "FAPI 1.0 Part 2 §5.2.2-14"),
            LimitSigningAlgorithms(algorithms, clause: "FAPI 1.0 Part 2 §8.6"),
            LimitKeySizes(rsa: 2048, ec: 160, clause: "FAPI 1.0 Part 1 §5.2.2-5, -6"),
            RequireRedirectURIInRequest(),
            RequireHTTPSRedirectURI(),
        ] + signedRequestObject(s, algorithms: algorithms) + [
            RequireProfileResponseType(allowed: [.codeIDToken, .code], codeRequiresJARM: true, clause: "FAPI 1.0 Part 2 §5.2.2-2"),
            RequireSenderConstrainedTokens(clause: "FAPI 1.0 Part 2 §5.2.2-5"),
            RequireACRValuesOffered(),
            RequirePKCES256(.requiredS256ForPublicOrPAR),
            RequireStateWithoutOpenID(),
            RequireNonceWithOpenID(),
        ] + everyRequest(s)
    }

    /// FAPI 2.0 Security Profile §5.3.
    static func fapi2Security(_ s: ServiceSettings) -> [any Rule] {
        fapi2Common(s, requestObjects: [])
    }

    /// FAPI 2.0 Message Signing §5.3 for authorization requests (`fapi2=ms-authreq`): the
    /// Security Profile plus signed request objects, pushed.
    static func fapi2SignedRequests(_ s: ServiceSettings) -> [any Rule] {
        fapi2Common(s, requestObjects: signedRequestObject(s, algorithms: fapi2Algorithms))
    }

    /// FAPI 2.0 Message Signing §5.4 for authorization responses (`fapi2=ms-authres`): the
    /// Security Profile plus JARM.
    static func fapi2SignedResponses(_ s: ServiceSettings) -> [any Rule] {
        fapi2Common(s, requestObjects: []) + [RequireJARMResponseMode()]
    }

    /// FAPI 2.0 Message Signing of both (`fapi2=ms`): exactly the union of the two lists above.
    static func fapi2MessageSigning(_ s: ServiceSettings) -> [any Rule] {
        fapi2Common(s, requestObjects: signedRequestObject(s, algorithms: fapi2Algorithms)) + [RequireJARMResponseMode()]
    }

    static let fapi2Algorithms: [JWSAlgorithm] = [.ps256, .es256, .eddsa]

    static func fapi2Common(_ s: ServiceSettings, requestObjects: [any Rule]) -> [any Rule] {
        [
            RejectPublicClients(clause: "FAPI 2.0 Security Profile §5.3.2.1"),
            RequirePushedAuthorizationRequest(),
            LimitClientAuthMethods([.privateKeyJWT, .tlsClientAuth, .selfSignedTLSClientAuth], clause: "FAPI 2.0 Security Profile §5.3.2.1"),
            LimitSigningAlgorithms(fapi2Algorithms, clause: "FAPI 2.0 Security Profile §5.4.1"),
            LimitKeySizes(rsa: 2048, ec: 224, clause: "FAPI 2.0 Security Profile §5.4.1"),
            RequireRedirectURIInRequest(),
            RequireHTTPSRedirectURI(),
        ] + requestObjects + [
            RequireProfileResponseType(allowed: [.code], codeRequiresJARM: false, clause: "FAPI 2.0 Security Profile §5.3.2.2-1"),
            RequireSenderConstrainedTokens(clause: "FAPI 2.0 Security Profile §5.3.2.2-5", dpop: true),
            LimitAuthorizationCodeLifetime(seconds: 60, clause: "FAPI 2.0 Security Profile §5.3.2.1-14"),
            RequireAssertionAudienceIssuer(),
            RequireIssResponseParameter(),
            RequirePKCES256(.requiredS256),
            AvoidRefreshTokenRotation(),
        ] + everyRequest(s)
    }
}

/// The rules of a request that selects all of `profiles`: the union of their lists, in the order
/// of the strictest profile's list and then the others' (a rule listed by several profiles is
/// evaluated once). Profiles only tighten by construction: no rule is ever dropped.
public struct RuleSet: Sendable {
    public let profiles: Set<Profile>
    public let rules: [any Rule]
    /// The policy the rules compose to (`Rule.constrain`, starting from `ProfileRequirements.base`).
    public let requirements: ProfileRequirements

    public init(profiles: Set<Profile>, service: ServiceSettings) {
        self.init(profiles: profiles, lists: { ProfileLists.list(ProfileRules.rules(for: $0, service: service)) })
    }

    /// Composes from each profile's rules with their identities, as `ProfileLists` gives them.
    init(profiles: Set<Profile>, lists: (Profile) -> [ProfileLists.Entry]) {
        let ordered = (profiles.isEmpty ? [.oauth] : profiles).sorted(by: >)
        var seen = Set<String>()
        var rules: [any Rule] = []
        for p in ordered {
            for entry in lists(p) where seen.insert(entry.identity).inserted {
                rules.append(entry.rule)
            }
        }
        var r = ProfileRequirements.base
        r.profile = ordered.first ?? .oauth
        for rule in rules { rule.constrain(&r) }
        self.profiles = Set(ordered)
        self.rules = rules
        self.requirements = r
    }

    public var names: [String] { rules.map(\.name) }

    public func checkAuthorization(_ f: AuthorizationFacts) throws(OAuthError) {
        for rule in rules { try rule.checkAuthorization(f) }
    }

    public func checkClientAuthentication(_ f: ClientAuthenticationFacts) throws(OAuthError) {
        for rule in rules { try rule.checkClientAuthentication(f) }
    }

    public func checkClientAssertion(_ f: ClientAuthenticationFacts) throws(OAuthError) {
        for rule in rules { try rule.checkClientAssertion(f) }
    }

    public func checkTokenRequest(_ f: TokenRequestFacts) throws(OAuthError) {
        for rule in rules { try rule.checkTokenRequest(f) }
    }

    public func checkResource(_ f: ResourceFacts) throws(OAuthError) {
        for rule in rules { try rule.checkResource(f) }
    }
}

/// Every `RuleSet` a service can need, built once: one per combination of profiles (there are
/// 2^7), so a request looks its rules up instead of composing them.
public struct RuleBook: Sendable {
    private let sets: [Set<Profile>: RuleSet]
    public let service: ServiceSettings

    public init(service: ServiceSettings) {
        self.service = service
        let all = Profile.allCases
        // Each profile's list and its rules' identities (reflection) once, not once per combination.
        var lists: [Profile: [ProfileLists.Entry]] = [:]
        for p in all { lists[p] = ProfileLists.list(ProfileRules.rules(for: p, service: service)) }
        var sets: [Set<Profile>: RuleSet] = [:]
        for mask in 0..<(1 << all.count) {
            let profiles = Set(all.indices.filter { mask & (1 << $0) != 0 }.map { all[$0] })
            sets[profiles] = RuleSet(profiles: profiles, lists: { lists[$0] ?? [] })
        }
        self.sets = sets
    }

    /// The rules of a request that selects `profiles` (none: plain OAuth).
    public func rules(for profiles: Set<Profile>) -> RuleSet {
        sets[profiles] ?? RuleSet(profiles: profiles, service: service)
    }

    public func rules(for profile: Profile) -> RuleSet { rules(for: [profile]) }
}

/// A profile's rules paired with their identities, which decide what a union keeps once.
enum ProfileLists {
    typealias Entry = (rule: any Rule, identity: String)

    static func list(_ rules: [any Rule]) -> [Entry] { rules.map { ($0, $0.identity) } }
}
