import StrongroomCore

/// One requirement of a profile, written once, with every face it has.
///
/// A rule is a small value named after what it demands (`RequireRequestObjectExp`), carrying the
/// clause it enforces. It may:
/// - shape the request's policy (`constrain`): the knobs the engine reads, such as the algorithms
///   it may sign with or the longest code lifetime — each rule only ever tightens them;
/// - judge an authorization request (`checkAuthorization`), a client's authentication at the
///   token, PAR and introspection endpoints (`checkClientAuthentication`), a client assertion as
///   soon as it is verified, from every profile its client can be held to (`checkClientAssertion`:
///   before the request's own profile is known, which may need the code the request spends), a token request
///   (`checkTokenRequest`), or an access token at a protected resource (`checkResource`);
/// - say what it demands of a client's registration and of the service's configuration
///   (`violations(of:)`), which registration, the CLI, the admin API and `config check` report.
///
/// Every face has a default that demands nothing, so a rule implements only the faces it has.
/// Profiles are lists of rules (`ProfileRules`); a request selecting several profiles is held to
/// the union of their lists (`RuleSet`), so profiles can only tighten.
public protocol Rule: Sendable {
    /// Imperative name, e.g. `RequirePKCES256`: the type's name unless a rule says otherwise.
    var name: String { get }
    /// The clause it enforces, e.g. "FAPI 1.0 Part 1 §5.2.2-7".
    var clause: String { get }

    func constrain(_ policy: inout ProfileRequirements)
    func checkAuthorization(_ f: AuthorizationFacts) throws(OAuthError)
    func checkClientAuthentication(_ f: ClientAuthenticationFacts) throws(OAuthError)
    func checkClientAssertion(_ f: ClientAuthenticationFacts) throws(OAuthError)
    func checkTokenRequest(_ f: TokenRequestFacts) throws(OAuthError)
    func checkResource(_ f: ResourceFacts) throws(OAuthError)
    func violations(of client: ClientMetadata, _ context: ConformanceContext) -> [Violation]
    func violations(of service: ServiceSettings, _ context: ConformanceContext) -> [Violation]
}

extension Rule {
    public var name: String { String(describing: Self.self) }
    public func constrain(_ policy: inout ProfileRequirements) {}
    public func checkAuthorization(_ f: AuthorizationFacts) throws(OAuthError) {}
    public func checkClientAuthentication(_ f: ClientAuthenticationFacts) throws(OAuthError) {}
    public func checkClientAssertion(_ f: ClientAuthenticationFacts) throws(OAuthError) {}
    public func checkTokenRequest(_ f: TokenRequestFacts) throws(OAuthError) {}
    public func checkResource(_ f: ResourceFacts) throws(OAuthError) {}
    public func violations(of client: ClientMetadata, _ context: ConformanceContext) -> [Violation] { [] }
    public func violations(of service: ServiceSettings, _ context: ConformanceContext) -> [Violation] { [] }

    /// Two rules are the same rule when they are the same type with the same settings.
    public var identity: String { String(reflecting: self) }

    /// The refusal, tagged with this rule's name and clause for logs and operators.
    public func fail(_ code: OAuthErrorCode, _ description: String, detail: String? = nil, status: Int? = nil) -> OAuthError {
        OAuthError(code, description, detail: detail, status: status, rule: "\(name) (\(clause))")
    }

    /// A configuration violation of this rule, for the profile being checked.
    public func violation(_ context: ConformanceContext, _ field: String, _ message: String) -> Violation {
        Violation(profile: context.profile, field: field, message: "\(message) (\(clause))")
    }
}

/// What the configuration faces know: the profile whose list is being checked and the service.
public struct ConformanceContext: Sendable {
    public var profile: Profile
    public var service: ServiceSettings
    /// The profile's composed policy (what its whole rule list constrains), for messages that
    /// name what is allowed instead.
    public var policy: ProfileRequirements
    public init(profile: Profile, service: ServiceSettings, policy: ProfileRequirements) {
        self.profile = profile; self.service = service; self.policy = policy
    }
    /// "FAPI 1.0 Advanced scopes", for messages.
    public var label: String { profile.displayName }
}

/// A client's authentication at the token, PAR or introspection endpoint, once the profiles of the
/// request are known.
public struct ClientAuthenticationFacts: Sendable {
    public var method: ClientAuthMethod
    /// The client assertion's algorithm (private_key_jwt, client_secret_jwt).
    public var assertionAlgorithm: JWSAlgorithm?
    /// The client assertion's `aud` values.
    public var assertionAudiences: [String]
    /// The assertion's `aud` was a single string, not an array.
    public var assertionAudienceIsString: Bool
    public var issuer: String
    /// The algorithms the service accepts for client assertions.
    public var offeredAssertionAlgorithms: [JWSAlgorithm]
    /// The strictest selected profile's name, for messages ("FAPI 1.0 Advanced").
    public var profileName: String
    public init(method: ClientAuthMethod, assertionAlgorithm: JWSAlgorithm?, assertionAudiences: [String], issuer: String,
                offeredAssertionAlgorithms: [JWSAlgorithm], profileName: String, assertionAudienceIsString: Bool = false) {
        self.method = method; self.assertionAlgorithm = assertionAlgorithm; self.assertionAudiences = assertionAudiences
        self.assertionAudienceIsString = assertionAudienceIsString
        self.issuer = issuer; self.offeredAssertionAlgorithms = offeredAssertionAlgorithms; self.profileName = profileName
    }
}

/// A token request (any grant), once the client is authenticated and the profiles are known.
public struct TokenRequestFacts: Sendable {
    /// A TLS client certificate came with the request (directly or from a trusted proxy).
    public var certificatePresented: Bool
    /// A DPoP proof came with the request.
    public var dpopProofPresented: Bool
    public init(certificatePresented: Bool, dpopProofPresented: Bool) {
        self.certificatePresented = certificatePresented; self.dpopProofPresented = dpopProofPresented
    }
}

/// An access token presented at a protected resource.
public struct ResourceFacts: Sendable {
    public var certificateBound: Bool
    public var dpopBound: Bool
    public init(certificateBound: Bool, dpopBound: Bool) { self.certificateBound = certificateBound; self.dpopBound = dpopBound }
}
