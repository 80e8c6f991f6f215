import StrongroomCore

/// What a profile requires, written once. Request-time checks and configuration-time client and
/// service checks both read these values, so a rule cannot be enforced in one place and forgotten
/// in the other.
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

    public static func of(_ profile: Profile) -> ProfileRequirements {
        switch profile {
        case .oauth: .oauth
        case .fapi1Baseline: .fapi1Baseline
        case .fapi1Advanced: .fapi1Advanced
        case .fapi2Security: .fapi2Security
        case .fapi2MessageSigning: .fapi2MessageSigning
        }
    }

    public static let oauth = ProfileRequirements(
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
        requireNonceForFrontChannelIDToken: true,
        requireNonceWithOpenID: false,
        requireSignedRequestObject: false,
        requestObjectMaxLifetime: nil,
        responseTypes: nil,
        codeRequiresJARM: false,
        requireSenderConstrainedTokens: false,
        requirePAR: false,
        maxCodeLifetime: nil,
        assertionAudienceMustBeIssuer: false,
        requireIssResponseParameter: false
    )

    /// FAPI 1.0 Part 1 (Baseline) §5.2.2.
    public static let fapi1Baseline: ProfileRequirements = {
        var r = ProfileRequirements.oauth
        r.profile = .fapi1Baseline
        r.clientAuthMethods = [.privateKeyJWT, .clientSecretJWT, .tlsClientAuth, .selfSignedTLSClientAuth]
        r.allowsPublicClients = true
        r.requireHTTPSRedirectURIs = true
        r.requireRedirectURIInRequest = true
        r.pkce = .requiredS256
        r.requireStateWithoutOpenID = true
        r.requireNonceWithOpenID = true
        return r
    }()

    /// FAPI 1.0 Part 2 (Advanced) §5.2.2 and §8.6.
    public static let fapi1Advanced: ProfileRequirements = {
        var r = ProfileRequirements.fapi1Baseline
        r.profile = .fapi1Advanced
        r.clientAuthMethods = [.privateKeyJWT, .tlsClientAuth, .selfSignedTLSClientAuth]
        r.allowsPublicClients = false
        r.signingAlgorithms = [.ps256, .es256]
        r.pkce = .requiredS256ForPublicOrPAR
        r.requireSignedRequestObject = true
        r.requestObjectMaxLifetime = 3600
        r.responseTypes = [.codeIDToken, .code]
        r.codeRequiresJARM = true
        r.requireSenderConstrainedTokens = true
        // Part 2 §5.2.2.0 takes over Part 1 §5.2.2 (but PKCE), so §5.2.2.2 holds: nonce whenever openid.
        return r
    }()

    /// FAPI 2.0 Security Profile §5.3.
    public static let fapi2Security: ProfileRequirements = {
        var r = ProfileRequirements.fapi1Baseline
        r.profile = .fapi2Security
        r.clientAuthMethods = [.privateKeyJWT, .tlsClientAuth, .selfSignedTLSClientAuth]
        r.allowsPublicClients = false
        r.signingAlgorithms = [.ps256, .es256, .eddsa]
        r.pkce = .requiredS256
        r.responseTypes = [.code]
        r.requireSenderConstrainedTokens = true
        r.requirePAR = true
        r.maxCodeLifetime = 60
        r.assertionAudienceMustBeIssuer = true
        r.requireIssResponseParameter = true
        r.requireStateWithoutOpenID = false
        r.requireNonceWithOpenID = false
        return r
    }()

    /// FAPI 2.0 Message Signing: the Security Profile plus signed requests and responses.
    public static let fapi2MessageSigning: ProfileRequirements = {
        var r = ProfileRequirements.fapi2Security
        r.profile = .fapi2MessageSigning
        r.requireSignedRequestObject = true
        r.requestObjectMaxLifetime = 3600
        return r
    }()

    /// What a request that selects all of `profiles` must meet: every rule of every one of them.
    /// Flags that demand something are OR-ed, lists of what is permitted are intersected, limits
    /// take the tightest value; `profile` is the strictest, for labels and clause names. So a
    /// request selecting several profiles is never held to fewer rules than any one of them.
    public static func union(_ profiles: some Sequence<Profile>) -> ProfileRequirements {
        let list = Array(Set(profiles)).sorted()
        guard var r = list.last.map(ProfileRequirements.of) else { return .oauth }
        for other in list.dropLast().map(ProfileRequirements.of) {
            r.clientAuthMethods = r.clientAuthMethods.filter(other.clientAuthMethods.contains)
            r.allowsPublicClients = r.allowsPublicClients && other.allowsPublicClients
            switch (r.signingAlgorithms, other.signingAlgorithms) {
            case (nil, let b): r.signingAlgorithms = b
            case (let a?, let b?): r.signingAlgorithms = a.filter(b.contains)
            default: break
            }
            r.minimumRSABits = max(r.minimumRSABits, other.minimumRSABits)
            r.minimumECBits = max(r.minimumECBits, other.minimumECBits)
            r.requireHTTPSRedirectURIs = r.requireHTTPSRedirectURIs || other.requireHTTPSRedirectURIs
            r.requireRedirectURIInRequest = r.requireRedirectURIInRequest || other.requireRedirectURIInRequest
            r.pkce = PKCE.strictest(r.pkce, other.pkce)
            r.requireStateWithoutOpenID = r.requireStateWithoutOpenID || other.requireStateWithoutOpenID
            r.requireNonceForFrontChannelIDToken = r.requireNonceForFrontChannelIDToken || other.requireNonceForFrontChannelIDToken
            r.requireNonceWithOpenID = r.requireNonceWithOpenID || other.requireNonceWithOpenID
            r.requireSignedRequestObject = r.requireSignedRequestObject || other.requireSignedRequestObject
            r.requestObjectMaxLifetime = [r.requestObjectMaxLifetime, other.requestObjectMaxLifetime].compactMap { $0 }.min()
            switch (r.responseTypes, other.responseTypes) {
            case (nil, let b): r.responseTypes = b
            case (let a?, let b?): r.responseTypes = a.filter(b.contains)
            default: break
            }
            r.codeRequiresJARM = r.codeRequiresJARM || other.codeRequiresJARM
            r.requireSenderConstrainedTokens = r.requireSenderConstrainedTokens || other.requireSenderConstrainedTokens
            r.requirePAR = r.requirePAR || other.requirePAR
            r.maxCodeLifetime = [r.maxCodeLifetime, other.maxCodeLifetime].compactMap { $0 }.min()
            r.assertionAudienceMustBeIssuer = r.assertionAudienceMustBeIssuer || other.assertionAudienceMustBeIssuer
            r.requireIssResponseParameter = r.requireIssResponseParameter || other.requireIssResponseParameter
        }
        return r
    }

    /// The algorithms this profile permits, intersected with what the service offers.
    public func permitted(_ offered: [JWSAlgorithm]) -> [JWSAlgorithm] {
        let base = offered.filter { $0 != .none }
        guard let signingAlgorithms else { return base }
        return base.filter { signingAlgorithms.contains($0) }
    }
}
