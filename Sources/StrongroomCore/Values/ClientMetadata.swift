import Foundation

/// A client's registered settings, spelled as RFC 7591, OpenID Connect Dynamic Client Registration,
/// RFC 8705, RFC 9101, RFC 9126 and JARM spell them on the wire.
///
/// Every property of the reference documents' client tables is here: authentication method and its
/// signing algorithm, redirect URIs, JWK Set by value or by URI, response and grant types, the
/// certificate-bound tokens flag, the `tls_client_auth_*` subject, and the signing algorithms for
/// request objects, ID tokens, userinfo and authorization responses.
public struct ClientMetadata: Sendable, Codable, Equatable {
    public var clientName: String?
    public var redirectURIs: [String]
    public var tokenEndpointAuthMethod: ClientAuthMethod
    public var tokenEndpointAuthSigningAlg: JWSAlgorithm?
    public var grantTypes: [GrantType]
    public var responseTypes: [ResponseType]
    /// Space-separated scopes this client may request (RFC 7591 `scope`). Nil: any supported scope.
    public var scope: String?
    public var jwks: JSONValue?
    public var jwksURI: String?
    public var tlsClientAuthSubjectDN: String?
    public var tlsClientAuthSANDNS: String?
    public var tlsClientAuthSANURI: String?
    public var tlsClientAuthSANIP: String?
    public var tlsClientAuthSANEmail: String?
    public var tlsClientCertificateBoundAccessTokens: Bool
    /// RFC 9449 §5.2: every token request of this client must carry a DPoP proof.
    public var dpopBoundAccessTokens: Bool
    public var requestObjectSigningAlg: JWSAlgorithm?
    public var idTokenSignedResponseAlg: JWSAlgorithm?
    public var userinfoSignedResponseAlg: JWSAlgorithm?
    public var authorizationSignedResponseAlg: JWSAlgorithm?
    public var introspectionSignedResponseAlg: JWSAlgorithm?
    public var requirePushedAuthorizationRequests: Bool
    public var requireSignedRequestObject: Bool
    public var defaultMaxAge: Int?
    public var defaultACRValues: [String]?
    public var postLogoutRedirectURIs: [String]?
    public var contacts: [String]?
    public var clientURI: String?
    public var logoURI: String?
    public var policyURI: String?
    public var tosURI: String?
    public var softwareID: String?
    public var softwareVersion: String?
    /// Strongroom extension: `opaque` (default) or `jwt` (RFC 9068) access tokens.
    public var accessTokenFormat: AccessTokenFormat?
    /// Strongroom extension: a profile forced for every request of this client (a floor: scopes
    /// that select a stricter profile still get it). Operator-only: refused by Dynamic Client Registration.
    public var forcedProfile: Profile?
    /// Strongroom extension: a resource server that may introspect access tokens issued to other
    /// clients. Operator-only: refused by Dynamic Client Registration.
    public var resourceServer: Bool?
    /// Strongroom extension: whether this client's refresh tokens rotate on use (nil: as the
    /// service and the request's profiles say; FAPI 2.0 turns rotation off, SP §5.3.2.1-10, and
    /// `true` is how an operator turns it back on for one client). Operator-only.
    public var refreshTokenRotation: Bool?

    public init(
        clientName: String? = nil,
        redirectURIs: [String] = [],
        tokenEndpointAuthMethod: ClientAuthMethod = .clientSecretBasic,
        tokenEndpointAuthSigningAlg: JWSAlgorithm? = nil,
        grantTypes: [GrantType] = [.authorizationCode],
        responseTypes: [ResponseType] = [.code],
        scope: String? = nil,
        jwks: JSONValue? = nil,
        jwksURI: String? = nil,
        tlsClientAuthSubjectDN: String? = nil,
        tlsClientCertificateBoundAccessTokens: Bool = false,
        dpopBoundAccessTokens: Bool = false,
        requestObjectSigningAlg: JWSAlgorithm? = nil,
        idTokenSignedResponseAlg: JWSAlgorithm? = nil,
        userinfoSignedResponseAlg: JWSAlgorithm? = nil,
        authorizationSignedResponseAlg: JWSAlgorithm? = nil,
        requirePushedAuthorizationRequests: Bool = false,
        requireSignedRequestObject: Bool = false
    ) {
        self.clientName = clientName
        self.redirectURIs = redirectURIs
        self.tokenEndpointAuthMethod = tokenEndpointAuthMethod
        self.tokenEndpointAuthSigningAlg = tokenEndpointAuthSigningAlg
        self.grantTypes = grantTypes
        self.responseTypes = responseTypes
        self.scope = scope
        self.jwks = jwks
        self.jwksURI = jwksURI
        self.tlsClientAuthSubjectDN = tlsClientAuthSubjectDN
        self.tlsClientCertificateBoundAccessTokens = tlsClientCertificateBoundAccessTokens
        self.dpopBoundAccessTokens = dpopBoundAccessTokens
        self.requestObjectSigningAlg = requestObjectSigningAlg
        self.idTokenSignedResponseAlg = idTokenSignedResponseAlg
        self.userinfoSignedResponseAlg = userinfoSignedResponseAlg
        self.authorizationSignedResponseAlg = authorizationSignedResponseAlg
        self.requirePushedAuthorizationRequests = requirePushedAuthorizationRequests
        self.requireSignedRequestObject = requireSignedRequestObject
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case clientName = "client_name"
        case redirectURIs = "redirect_uris"
        case tokenEndpointAuthMethod = "token_endpoint_auth_method"
        case tokenEndpointAuthSigningAlg = "token_endpoint_auth_signing_alg"
        case grantTypes = "grant_types"
        case responseTypes = "response_types"
        case scope
        case jwks
        case jwksURI = "jwks_uri"
        case tlsClientAuthSubjectDN = "tls_client_auth_subject_dn"
        case tlsClientAuthSANDNS = "tls_client_auth_san_dns"
        case tlsClientAuthSANURI = "tls_client_auth_san_uri"
        case tlsClientAuthSANIP = "tls_client_auth_san_ip"
        case tlsClientAuthSANEmail = "tls_client_auth_san_email"
        case tlsClientCertificateBoundAccessTokens = "tls_client_certificate_bound_access_tokens"
        case dpopBoundAccessTokens = "dpop_bound_access_tokens"
        case requestObjectSigningAlg = "request_object_signing_alg"
        case idTokenSignedResponseAlg = "id_token_signed_response_alg"
        case userinfoSignedResponseAlg = "userinfo_signed_response_alg"
        case authorizationSignedResponseAlg = "authorization_signed_response_alg"
        case introspectionSignedResponseAlg = "introspection_signed_response_alg"
        case requirePushedAuthorizationRequests = "require_pushed_authorization_requests"
        case requireSignedRequestObject = "require_signed_request_object"
        case defaultMaxAge = "default_max_age"
        case defaultACRValues = "default_acr_values"
        case postLogoutRedirectURIs = "post_logout_redirect_uris"
        case contacts
        case clientURI = "client_uri"
        case logoURI = "logo_uri"
        case policyURI = "policy_uri"
        case tosURI = "tos_uri"
        case softwareID = "software_id"
        case softwareVersion = "software_version"
        case accessTokenFormat = "access_token_format"
        case forcedProfile = "strongroom_forced_profile"
        case resourceServer = "strongroom_resource_server"
        case refreshTokenRotation = "strongroom_refresh_token_rotation"
    }

    /// The settings only an operator may choose (CLI, admin API, configuration), never the client
    /// through Dynamic Client Registration: every `strongroom_*` member.
    public static let operatorOnlyKeys: [CodingKeys] = CodingKeys.allCases.filter { $0.rawValue.hasPrefix("strongroom_") }

    /// These metadata with every operator-only setting taken from `current`: what an RFC 7592
    /// update by the client itself may change leaves them as the operator set them.
    public func keepingOperatorSettings(of current: ClientMetadata) -> ClientMetadata {
        var m = self
        m.forcedProfile = current.forcedProfile
        m.resourceServer = current.resourceServer
        m.refreshTokenRotation = current.refreshTokenRotation
        return m
    }

    /// Decodes with RFC 7591 defaults (§2): `grant_types` → authorization_code, `response_types` → code,
    /// `token_endpoint_auth_method` → client_secret_basic. Unknown enum values are reported by name.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        clientName = try c.decodeIfPresent(String.self, forKey: .clientName)
        redirectURIs = try c.decodeIfPresent([String].self, forKey: .redirectURIs) ?? []
        tokenEndpointAuthMethod = try c.decodeIfPresent(ClientAuthMethod.self, forKey: .tokenEndpointAuthMethod) ?? .clientSecretBasic
        tokenEndpointAuthSigningAlg = try c.decodeIfPresent(JWSAlgorithm.self, forKey: .tokenEndpointAuthSigningAlg)
        grantTypes = try c.decodeIfPresent([GrantType].self, forKey: .grantTypes) ?? [.authorizationCode]
        if let raw = try c.decodeIfPresent([String].self, forKey: .responseTypes) {
            responseTypes = try raw.map { value in
                guard let rt = ResponseType(parsing: value) else {
                    throw DecodingError.dataCorruptedError(forKey: .responseTypes, in: c, debugDescription: "unknown response type '\(value)'")
                }
                return rt
            }
        } else {
            responseTypes = [.code]
        }
        scope = try c.decodeIfPresent(String.self, forKey: .scope)
        jwks = try c.decodeIfPresent(JSONValue.self, forKey: .jwks)
        jwksURI = try c.decodeIfPresent(String.self, forKey: .jwksURI)
        tlsClientAuthSubjectDN = try c.decodeIfPresent(String.self, forKey: .tlsClientAuthSubjectDN)
        tlsClientAuthSANDNS = try c.decodeIfPresent(String.self, forKey: .tlsClientAuthSANDNS)
        tlsClientAuthSANURI = try c.decodeIfPresent(String.self, forKey: .tlsClientAuthSANURI)
        tlsClientAuthSANIP = try c.decodeIfPresent(String.self, forKey: .tlsClientAuthSANIP)
        tlsClientAuthSANEmail = try c.decodeIfPresent(String.self, forKey: .tlsClientAuthSANEmail)
        tlsClientCertificateBoundAccessTokens = try c.decodeIfPresent(Bool.self, forKey: .tlsClientCertificateBoundAccessTokens) ?? false
        dpopBoundAccessTokens = try c.decodeIfPresent(Bool.self, forKey: .dpopBoundAccessTokens) ?? false
        requestObjectSigningAlg = try c.decodeIfPresent(JWSAlgorithm.self, forKey: .requestObjectSigningAlg)
        idTokenSignedResponseAlg = try c.decodeIfPresent(JWSAlgorithm.self, forKey: .idTokenSignedResponseAlg)
        userinfoSignedResponseAlg = try c.decodeIfPresent(JWSAlgorithm.self, forKey: .userinfoSignedResponseAlg)
        authorizationSignedResponseAlg = try c.decodeIfPresent(JWSAlgorithm.self, forKey: .authorizationSignedResponseAlg)
        introspectionSignedResponseAlg = try c.decodeIfPresent(JWSAlgorithm.self, forKey: .introspectionSignedResponseAlg)
        requirePushedAuthorizationRequests = try c.decodeIfPresent(Bool.self, forKey: .requirePushedAuthorizationRequests) ?? false
        requireSignedRequestObject = try c.decodeIfPresent(Bool.self, forKey: .requireSignedRequestObject) ?? false
        defaultMaxAge = try c.decodeIfPresent(Int.self, forKey: .defaultMaxAge)
        defaultACRValues = try c.decodeIfPresent([String].self, forKey: .defaultACRValues)
        postLogoutRedirectURIs = try c.decodeIfPresent([String].self, forKey: .postLogoutRedirectURIs)
        contacts = try c.decodeIfPresent([String].self, forKey: .contacts)
        clientURI = try c.decodeIfPresent(String.self, forKey: .clientURI)
        logoURI = try c.decodeIfPresent(String.self, forKey: .logoURI)
        policyURI = try c.decodeIfPresent(String.self, forKey: .policyURI)
        tosURI = try c.decodeIfPresent(String.self, forKey: .tosURI)
        softwareID = try c.decodeIfPresent(String.self, forKey: .softwareID)
        softwareVersion = try c.decodeIfPresent(String.self, forKey: .softwareVersion)
        accessTokenFormat = try c.decodeIfPresent(AccessTokenFormat.self, forKey: .accessTokenFormat)
        forcedProfile = try c.decodeIfPresent(Profile.self, forKey: .forcedProfile)
        resourceServer = try c.decodeIfPresent(Bool.self, forKey: .resourceServer)
        refreshTokenRotation = try c.decodeIfPresent(Bool.self, forKey: .refreshTokenRotation)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(clientName, forKey: .clientName)
        try c.encode(redirectURIs, forKey: .redirectURIs)
        try c.encode(tokenEndpointAuthMethod, forKey: .tokenEndpointAuthMethod)
        try c.encodeIfPresent(tokenEndpointAuthSigningAlg, forKey: .tokenEndpointAuthSigningAlg)
        try c.encode(grantTypes, forKey: .grantTypes)
        try c.encode(responseTypes.map(\.rawValue), forKey: .responseTypes)
        try c.encodeIfPresent(scope, forKey: .scope)
        try c.encodeIfPresent(jwks, forKey: .jwks)
        try c.encodeIfPresent(jwksURI, forKey: .jwksURI)
        try c.encodeIfPresent(tlsClientAuthSubjectDN, forKey: .tlsClientAuthSubjectDN)
        try c.encodeIfPresent(tlsClientAuthSANDNS, forKey: .tlsClientAuthSANDNS)
        try c.encodeIfPresent(tlsClientAuthSANURI, forKey: .tlsClientAuthSANURI)
        try c.encodeIfPresent(tlsClientAuthSANIP, forKey: .tlsClientAuthSANIP)
        try c.encodeIfPresent(tlsClientAuthSANEmail, forKey: .tlsClientAuthSANEmail)
        try c.encode(tlsClientCertificateBoundAccessTokens, forKey: .tlsClientCertificateBoundAccessTokens)
        if dpopBoundAccessTokens { try c.encode(dpopBoundAccessTokens, forKey: .dpopBoundAccessTokens) }
        try c.encodeIfPresent(requestObjectSigningAlg, forKey: .requestObjectSigningAlg)
        try c.encodeIfPresent(idTokenSignedResponseAlg, forKey: .idTokenSignedResponseAlg)
        try c.encodeIfPresent(userinfoSignedResponseAlg, forKey: .userinfoSignedResponseAlg)
        try c.encodeIfPresent(authorizationSignedResponseAlg, forKey: .authorizationSignedResponseAlg)
        try c.encodeIfPresent(introspectionSignedResponseAlg, forKey: .introspectionSignedResponseAlg)
        try c.encode(requirePushedAuthorizationRequests, forKey: .requirePushedAuthorizationRequests)
        try c.encode(requireSignedRequestObject, forKey: .requireSignedRequestObject)
        try c.encodeIfPresent(defaultMaxAge, forKey: .defaultMaxAge)
        try c.encodeIfPresent(defaultACRValues, forKey: .defaultACRValues)
        try c.encodeIfPresent(postLogoutRedirectURIs, forKey: .postLogoutRedirectURIs)
        try c.encodeIfPresent(contacts, forKey: .contacts)
        try c.encodeIfPresent(clientURI, forKey: .clientURI)
        try c.encodeIfPresent(logoURI, forKey: .logoURI)
        try c.encodeIfPresent(policyURI, forKey: .policyURI)
        try c.encodeIfPresent(tosURI, forKey: .tosURI)
        try c.encodeIfPresent(softwareID, forKey: .softwareID)
        try c.encodeIfPresent(softwareVersion, forKey: .softwareVersion)
        try c.encodeIfPresent(accessTokenFormat, forKey: .accessTokenFormat)
        try c.encodeIfPresent(forcedProfile, forKey: .forcedProfile)
        try c.encodeIfPresent(resourceServer, forKey: .resourceServer)
        try c.encodeIfPresent(refreshTokenRotation, forKey: .refreshTokenRotation)
    }

    public var isPublic: Bool { tokenEndpointAuthMethod.isPublic }
    public var allowedScopes: [String]? { scope.map { parseScopes($0) } }
}

/// A registered client: its identifier, metadata, and the hashes of what it was issued.
public struct Client: Sendable, Equatable {
    public var clientID: String
    public var metadata: ClientMetadata
    /// Keyed hash of a high-entropy `client_secret` (for `client_secret_basic`/`_post`).
    public var secretHash: String?
    /// The secret itself, kept only for `client_secret_jwt` (HMAC verification needs it). Plain in
    /// memory; the storage layer keeps it encrypted under the key-encryption key (`keys`).
    public var secretForHMAC: String?
    public var secretExpiresAt: Date?
    /// Keyed hash of the RFC 7592 registration access token.
    public var registrationAccessTokenHash: String?
    /// Where the client came from: `config`, `cli`, `admin`, `dcr`.
    public var source: String
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        clientID: String, metadata: ClientMetadata, secretHash: String? = nil, secretForHMAC: String? = nil,
        secretExpiresAt: Date? = nil, registrationAccessTokenHash: String? = nil, source: String = "cli",
        createdAt: Date = Date(), updatedAt: Date = Date()
    ) {
        self.clientID = clientID
        self.metadata = metadata
        self.secretHash = secretHash
        self.secretForHMAC = secretForHMAC
        self.secretExpiresAt = secretExpiresAt
        self.registrationAccessTokenHash = registrationAccessTokenHash
        self.source = source
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}
