import StrongroomCore

/// The knobs a request's rules set for the engine: which algorithms it may sign with, whether only
/// request-object parameters count, the longest code lifetime, and so on. Nothing sets them but
/// the rules' `constrain` faces (starting from `base`), so the engine reads a policy without ever
/// asking which profile it is in.
public struct ProfileRequirements: Sendable, Equatable {
    public enum PKCE: Sendable, Equatable {
        /// Optional; `plain` accepted if the service allows it.
        case optional
        /// Always required, S256 only (FAPI 1.0 Part 1 §5.2.2-7, FAPI 2.0 SP §5.3.2.2).
        case requiredS256
        /// S256 required for public clients and for PAR; otherwise optional but S256 only (FAPI 1.0 Part 2 §5.2.2-18).
        case requiredS256ForPublicOrPAR

        /// The stricter of two PKCE rules.
        static func strictest(_ a: PKCE, _ b: PKCE) -> PKCE {
            if a == .requiredS256 || b == .requiredS256 { return .requiredS256 }
            if a == .requiredS256ForPublicOrPAR || b == .requiredS256ForPublicOrPAR { return .requiredS256ForPublicOrPAR }
            return .optional
        }
    }

    public var profile: Profile
    /// Client authentication methods permitted for confidential clients.
    public var clientAuthMethods: [ClientAuthMethod]
    public var allowsPublicClients: Bool
    /// Algorithms permitted for every JWS the client or server produces. Nil: any of the service's.
    public var signingAlgorithms: [JWSAlgorithm]?
    public var minimumRSABits: Int
    public var minimumECBits: Int
    public var requireHTTPSRedirectURIs: Bool
    /// `redirect_uri` must be present in the request even with one registered URI.
    public var requireRedirectURIInRequest: Bool
    public var pkce: PKCE
    /// `state` required when `openid` is not requested.
    public var requireStateWithoutOpenID: Bool
    /// `nonce` required whenever an ID token comes from the authorization endpoint (OIDC Core §3.3.2.11).
    public var requireNonceForFrontChannelIDToken: Bool
    /// `nonce` required whenever `openid` is requested (FAPI 1.0 Part 1 §5.2.2.2).
    public var requireNonceWithOpenID: Bool
    /// A signed request object (`request` or PAR) is required; only its parameters are used.
    public var requireSignedRequestObject: Bool
    /// Request object `exp` − `nbf` at most this, and `nbf` no older than this (seconds).
    public var requestObjectMaxLifetime: Int?
    /// Response types permitted; `code` only with a JARM response mode when `codeRequiresJARM`.
    public var responseTypes: [ResponseType]?
    public var codeRequiresJARM: Bool
    public var requireSenderConstrainedTokens: Bool
    public var requirePAR: Bool
    /// Authorization codes live at most this many seconds (FAPI 2.0 SP §5.3.2.1-14: 60 s).
    public var maxCodeLifetime: Int?
    /// Client-assertion `aud` must be exactly the issuer (FAPI 2.0 SP §5.3.2.1-8).
    public var assertionAudienceMustBeIssuer: Bool
    /// The `iss` authorization response parameter is mandatory (FAPI 2.0 SP §5.3.2.2-9).
    public var requireIssResponseParameter: Bool
    /// Refresh tokens may rotate on use (when the service rotates them at all).
    public var refreshTokenRotation: Bool

    /// The knobs before any rule has spoken: plain OAuth 2.0 as RFC 6749 and OIDC Core allow it.
    public static let base = ProfileRequirements(
        profile: .oauth,
        clientAuthMethods: ClientAuthMethod.allCases.filter { $0 != .none },
        allowsPublicClients: true,
        signingAlgorithms: nil,
        minimumRSABits: 2048,
        minimumECBits: 160,
        requireHTTPSRedirectURIs: false,
        requireRedirectURIInRequest: false,
        pkce: .optional,
        requireStateWithoutOpenID: false,
        requireNonceForFrontChannelIDToken: false,
        requireNonceWithOpenID: false,
        requireSignedRequestObject: false,
        requestObjectMaxLifetime: nil,
        responseTypes: nil,
        codeRequiresJARM: false,
        requireSenderConstrainedTokens: false,
        requirePAR: false,
        maxCodeLifetime: nil,
        assertionAudienceMustBeIssuer: false,
        requireIssResponseParameter: false,
        refreshTokenRotation: true
    )

    /// What one profile's rule list composes to.
    public static func of(_ profile: Profile, service: ServiceSettings = ServiceSettings(issuer: "https://issuer.invalid")) -> ProfileRequirements {
        RuleSet(profiles: [profile], service: service).requirements
    }

    /// What a request that selects all of `profiles` must meet: the policy their rule lists
    /// compose to together (`RuleSet`). Each rule only tightens, so the union is never looser than
    /// any one profile.
    public static func union(_ profiles: some Sequence<Profile>, service: ServiceSettings = ServiceSettings(issuer: "https://issuer.invalid")) -> ProfileRequirements {
        RuleSet(profiles: Set(profiles), service: service).requirements
    }

    /// The algorithms this profile permits, intersected with what the service offers.
    public func permitted(_ offered: [JWSAlgorithm]) -> [JWSAlgorithm] {
        let base = offered.filter { $0 != .none }
        guard let signingAlgorithms else { return base }
        return base.filter { signingAlgorithms.contains($0) }
    }
}
