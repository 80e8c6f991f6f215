import Foundation

/// The authorization server's own settings: the reference documents' *service* table.
public struct ServiceSettings: Sendable, Codable, Equatable {
    /// `iss` of everything the server signs; https, no query or fragment (RFC 8414 §2).
    public var issuer: String
    /// Profiles the service supports. Requests that select a profile not listed are refused.
    public var supportedProfiles: [Profile]
    /// A profile applied to every request regardless of scope attributes (precedence over scopes).
    public var forcedProfile: Profile?
    public var clientAuthMethods: [ClientAuthMethod]
    public var scopes: [ScopeDefinition]
    public var responseTypes: [ResponseType]
    public var responseModes: [ResponseMode]
    public var grantTypes: [GrantType]
    public var acrValues: [String]
    /// RFC 8705 certificate-bound access tokens.
    public var tlsClientCertificateBoundAccessTokens: Bool
    public var lifetimes: Lifetimes
    public var algorithms: Algorithms
    /// Claims the server can release (discovery `claims_supported`).
    public var claimsSupported: [String]
    /// RFC 9207: `iss` in every authorization response.
    public var authorizationResponseIssParameter: Bool
    /// Refresh tokens are rotated on use; a rotated-out token replayed revokes its family.
    public var refreshTokenRotation: Bool
    public var accessTokenFormat: AccessTokenFormat
    /// Maximum request object lifetime (`exp` − `nbf`), and how old `nbf` may be (FAPI 1 Adv 5.2.2-13/17).
    public var requestObjectMaxLifetime: Int
    /// Accepted clock skew in seconds for `iat`/`nbf`/`exp` checks.
    public var clockSkew: Int
    /// Dynamic Client Registration: enabled and the initial access tokens it accepts (hashes or plain).
    public var registration: Registration
    /// Whether `plain` PKCE is accepted at all for plain OAuth requests.
    public var allowPlainPKCE: Bool
    /// Require PAR for every request (as FAPI 2.0 does).
    public var requirePushedAuthorizationRequests: Bool
    /// Let clients' `jwks_uri` resolve to loopback, private or link-local addresses (off: SSRF guard).
    public var allowPrivateJWKSURI: Bool
    /// Every DPoP proof must carry a current server nonce (RFC 9449 §8, §9): refused with
    /// `use_dpop_nonce` and a fresh `DPoP-Nonce` otherwise.
    public var dpopNonceRequired: Bool

    public struct Lifetimes: Sendable, Codable, Equatable {
        public var authorizationCode: Int
        public var accessToken: Int
        public var refreshToken: Int
        public var idToken: Int
        public var pushedRequest: Int
        public var session: Int
        public var interaction: Int
        public init(authorizationCode: Int = 60, accessToken: Int = 300, refreshToken: Int = 2_592_000, idToken: Int = 600,
                    pushedRequest: Int = 90, session: Int = 3600, interaction: Int = 900) {
            self.authorizationCode = authorizationCode
            self.accessToken = accessToken
            self.refreshToken = refreshToken
            self.idToken = idToken
            self.pushedRequest = pushedRequest
            self.session = session
            self.interaction = interaction
        }
        enum CodingKeys: String, CodingKey {
            case authorizationCode = "authorization_code", accessToken = "access_token", refreshToken = "refresh_token"
            case idToken = "id_token", pushedRequest = "pushed_request", session, interaction
        }
        public init(from decoder: any Decoder) throws {
            let d = Lifetimes()
            let c = try decoder.container(keyedBy: CodingKeys.self)
            authorizationCode = try c.decodeIfPresent(Int.self, forKey: .authorizationCode) ?? d.authorizationCode
            accessToken = try c.decodeIfPresent(Int.self, forKey: .accessToken) ?? d.accessToken
            refreshToken = try c.decodeIfPresent(Int.self, forKey: .refreshToken) ?? d.refreshToken
            idToken = try c.decodeIfPresent(Int.self, forKey: .idToken) ?? d.idToken
            pushedRequest = try c.decodeIfPresent(Int.self, forKey: .pushedRequest) ?? d.pushedRequest
            session = try c.decodeIfPresent(Int.self, forKey: .session) ?? d.session
            interaction = try c.decodeIfPresent(Int.self, forKey: .interaction) ?? d.interaction
        }
    }

    /// Signing algorithms per artifact: what the server signs with, and what it accepts from clients.
    public struct Algorithms: Sendable, Codable, Equatable {
        public var idToken: [JWSAlgorithm]
        public var userinfo: [JWSAlgorithm]
        public var authorizationResponse: [JWSAlgorithm]
        public var introspection: [JWSAlgorithm]
        public var requestObject: [JWSAlgorithm]
        public var clientAssertion: [JWSAlgorithm]
        public var accessToken: [JWSAlgorithm]
        /// DPoP proofs (RFC 9449; discovery `dpop_signing_alg_values_supported`): asymmetric only.
        public var dpop: [JWSAlgorithm]
        public init(idToken: [JWSAlgorithm] = [.ps256, .es256], userinfo: [JWSAlgorithm] = [.ps256, .es256],
                    authorizationResponse: [JWSAlgorithm] = [.ps256, .es256], introspection: [JWSAlgorithm] = [.ps256, .es256],
                    requestObject: [JWSAlgorithm] = [.ps256, .es256], clientAssertion: [JWSAlgorithm] = [.ps256, .es256, .hs256],
                    accessToken: [JWSAlgorithm] = [.ps256, .es256], dpop: [JWSAlgorithm] = [.es256, .ps256, .eddsa]) {
            self.idToken = idToken
            self.userinfo = userinfo
            self.authorizationResponse = authorizationResponse
            self.introspection = introspection
            self.requestObject = requestObject
            self.clientAssertion = clientAssertion
            self.accessToken = accessToken
            self.dpop = dpop
        }
        enum CodingKeys: String, CodingKey {
            case idToken = "id_token", userinfo, authorizationResponse = "authorization_response", introspection
            case requestObject = "request_object", clientAssertion = "client_assertion", accessToken = "access_token", dpop
        }
        public init(from decoder: any Decoder) throws {
            let d = Algorithms()
            let c = try decoder.container(keyedBy: CodingKeys.self)
            idToken = try c.decodeIfPresent([JWSAlgorithm].self, forKey: .idToken) ?? d.idToken
            userinfo = try c.decodeIfPresent([JWSAlgorithm].self, forKey: .userinfo) ?? d.userinfo
            authorizationResponse = try c.decodeIfPresent([JWSAlgorithm].self, forKey: .authorizationResponse) ?? d.authorizationResponse
            introspection = try c.decodeIfPresent([JWSAlgorithm].self, forKey: .introspection) ?? d.introspection
            requestObject = try c.decodeIfPresent([JWSAlgorithm].self, forKey: .requestObject) ?? d.requestObject
            clientAssertion = try c.decodeIfPresent([JWSAlgorithm].self, forKey: .clientAssertion) ?? d.clientAssertion
            accessToken = try c.decodeIfPresent([JWSAlgorithm].self, forKey: .accessToken) ?? d.accessToken
            dpop = try c.decodeIfPresent([JWSAlgorithm].self, forKey: .dpop) ?? d.dpop
        }
    }

    public struct Registration: Sendable, Codable, Equatable {
        public var enabled: Bool
        /// Initial access tokens (RFC 7591 §3). Empty: open registration is refused.
        public var initialAccessTokens: [String]
        public init(enabled: Bool = true, initialAccessTokens: [String] = []) {
            self.enabled = enabled
            self.initialAccessTokens = initialAccessTokens
        }
        enum CodingKeys: String, CodingKey { case enabled, initialAccessTokens = "initial_access_tokens" }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? true
            initialAccessTokens = try c.decodeIfPresent([String].self, forKey: .initialAccessTokens) ?? []
        }
    }

    public init(issuer: String) {
        self.issuer = issuer
        supportedProfiles = Profile.allCases
        forcedProfile = nil
        clientAuthMethods = ClientAuthMethod.allCases
        scopes = [
            ScopeDefinition(name: "openid", description: "Sign you in"),
            ScopeDefinition(name: "profile", description: "Your name and profile"),
            ScopeDefinition(name: "email", description: "Your email address"),
            ScopeDefinition(name: "offline_access", description: "Stay connected when you are away"),
        ]
        responseTypes = [.code, .codeIDToken]
        responseModes = ResponseMode.allCases
        grantTypes = GrantType.allCases
        acrValues = ["urn:mace:incommon:iap:silver"]
        tlsClientCertificateBoundAccessTokens = true
        lifetimes = Lifetimes()
        algorithms = Algorithms()
        claimsSupported = ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "name", "given_name",
                           "family_name", "email", "email_verified", "preferred_username"]
        authorizationResponseIssParameter = true
        refreshTokenRotation = true
        accessTokenFormat = .opaque
        requestObjectMaxLifetime = 3600
        clockSkew = 10
        registration = Registration()
        allowPlainPKCE = false
        requirePushedAuthorizationRequests = false
        allowPrivateJWKSURI = false
        dpopNonceRequired = false
    }

    enum CodingKeys: String, CodingKey {
        case issuer
        case supportedProfiles = "supported_profiles"
        case forcedProfile = "forced_profile"
        case clientAuthMethods = "client_auth_methods"
        case scopes
        case responseTypes = "response_types"
        case responseModes = "response_modes"
        case grantTypes = "grant_types"
        case acrValues = "acr_values"
        case tlsClientCertificateBoundAccessTokens = "tls_client_certificate_bound_access_tokens"
        case lifetimes
        case algorithms
        case claimsSupported = "claims_supported"
        case authorizationResponseIssParameter = "authorization_response_iss_parameter"
        case refreshTokenRotation = "refresh_token_rotation"
        case accessTokenFormat = "access_token_format"
        case requestObjectMaxLifetime = "request_object_max_lifetime"
        case clockSkew = "clock_skew"
        case registration
        case allowPlainPKCE = "allow_plain_pkce"
        case requirePushedAuthorizationRequests = "require_pushed_authorization_requests"
        case allowPrivateJWKSURI = "allow_private_jwks_uri"
        case dpopNonceRequired = "dpop_nonce_required"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(issuer: try c.decode(String.self, forKey: .issuer))
        supportedProfiles = try c.decodeIfPresent([Profile].self, forKey: .supportedProfiles) ?? supportedProfiles
        forcedProfile = try c.decodeIfPresent(Profile.self, forKey: .forcedProfile)
        clientAuthMethods = try c.decodeIfPresent([ClientAuthMethod].self, forKey: .clientAuthMethods) ?? clientAuthMethods
        scopes = try c.decodeIfPresent([ScopeDefinition].self, forKey: .scopes) ?? scopes
        if let raw = try c.decodeIfPresent([String].self, forKey: .responseTypes) {
            responseTypes = try raw.map { v in
                guard let rt = ResponseType(parsing: v) else {
                    throw DecodingError.dataCorruptedError(forKey: .responseTypes, in: c, debugDescription: "unknown response type '\(v)'")
                }
                return rt
            }
        }
        responseModes = try c.decodeIfPresent([ResponseMode].self, forKey: .responseModes) ?? responseModes
        grantTypes = try c.decodeIfPresent([GrantType].self, forKey: .grantTypes) ?? grantTypes
        acrValues = try c.decodeIfPresent([String].self, forKey: .acrValues) ?? acrValues
        tlsClientCertificateBoundAccessTokens = try c.decodeIfPresent(Bool.self, forKey: .tlsClientCertificateBoundAccessTokens) ?? tlsClientCertificateBoundAccessTokens
        lifetimes = try c.decodeIfPresent(Lifetimes.self, forKey: .lifetimes) ?? lifetimes
        algorithms = try c.decodeIfPresent(Algorithms.self, forKey: .algorithms) ?? algorithms
        claimsSupported = try c.decodeIfPresent([String].self, forKey: .claimsSupported) ?? claimsSupported
        authorizationResponseIssParameter = try c.decodeIfPresent(Bool.self, forKey: .authorizationResponseIssParameter) ?? authorizationResponseIssParameter
        refreshTokenRotation = try c.decodeIfPresent(Bool.self, forKey: .refreshTokenRotation) ?? refreshTokenRotation
        accessTokenFormat = try c.decodeIfPresent(AccessTokenFormat.self, forKey: .accessTokenFormat) ?? accessTokenFormat
        requestObjectMaxLifetime = try c.decodeIfPresent(Int.self, forKey: .requestObjectMaxLifetime) ?? requestObjectMaxLifetime
        clockSkew = try c.decodeIfPresent(Int.self, forKey: .clockSkew) ?? clockSkew
        registration = try c.decodeIfPresent(Registration.self, forKey: .registration) ?? registration
        allowPlainPKCE = try c.decodeIfPresent(Bool.self, forKey: .allowPlainPKCE) ?? allowPlainPKCE
        requirePushedAuthorizationRequests = try c.decodeIfPresent(Bool.self, forKey: .requirePushedAuthorizationRequests) ?? requirePushedAuthorizationRequests
        allowPrivateJWKSURI = try c.decodeIfPresent(Bool.self, forKey: .allowPrivateJWKSURI) ?? allowPrivateJWKSURI
        dpopNonceRequired = try c.decodeIfPresent(Bool.self, forKey: .dpopNonceRequired) ?? dpopNonceRequired
    }

    public func scope(named name: String) -> ScopeDefinition? { scopes.first { $0.name == name } }
}
