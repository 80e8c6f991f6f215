/// Client authentication methods at the token, PAR, introspection and revocation endpoints.
/// RFC 6749 §2.3, OpenID Connect Core §9, RFC 8705 §2.
public enum ClientAuthMethod: String, Sendable, Codable, CaseIterable {
    case clientSecretBasic = "client_secret_basic"
    case clientSecretPost = "client_secret_post"
    case clientSecretJWT = "client_secret_jwt"
    case privateKeyJWT = "private_key_jwt"
    case tlsClientAuth = "tls_client_auth"
    case selfSignedTLSClientAuth = "self_signed_tls_client_auth"
    case none = "none"

    public var usesSharedSecret: Bool { self == .clientSecretBasic || self == .clientSecretPost || self == .clientSecretJWT }
    public var usesMutualTLS: Bool { self == .tlsClientAuth || self == .selfSignedTLSClientAuth }
    public var isPublic: Bool { self == .none }
}

/// JWS algorithms Strongroom knows. `none` is listed so it can be named and refused.
public enum JWSAlgorithm: String, Sendable, Codable, CaseIterable {
    case ps256 = "PS256", ps384 = "PS384", ps512 = "PS512"
    case rs256 = "RS256", rs384 = "RS384", rs512 = "RS512"
    case es256 = "ES256", es384 = "ES384", es512 = "ES512"
    case eddsa = "EdDSA"
    case hs256 = "HS256", hs384 = "HS384", hs512 = "HS512"
    case none = "none"

    public var isSymmetric: Bool { self == .hs256 || self == .hs384 || self == .hs512 }
    public var isRSA: Bool { [.ps256, .ps384, .ps512, .rs256, .rs384, .rs512].contains(self) }
    public var isEC: Bool { [.es256, .es384, .es512].contains(self) }
    /// The algorithms FAPI 1.0 Advanced §8.6 permits.
    public static let fapi: [JWSAlgorithm] = [.ps256, .es256]
    /// The algorithms FAPI 2.0 Security Profile §5.4 permits.
    public static let fapi2: [JWSAlgorithm] = [.ps256, .es256, .eddsa]
}

public enum GrantType: String, Sendable, Codable, CaseIterable {
    case authorizationCode = "authorization_code"
    case refreshToken = "refresh_token"
    case clientCredentials = "client_credentials"
}

/// Response types (OAuth 2.0 Multiple Response Types). Stored in canonical order.
public enum ResponseType: String, Sendable, Codable, CaseIterable {
    case code = "code"
    case codeIDToken = "code id_token"
    case idToken = "id_token"
    case codeToken = "code token"
    case codeIDTokenToken = "code id_token token"
    case none = "none"

    /// Parses a space-separated value in any order ("id_token code" == "code id_token").
    public init?(parsing value: String) {
        let parts = Set(value.split(separator: " ").map(String.init))
        guard !parts.isEmpty else { return nil }
        let match = ResponseType.allCases.first { Set($0.rawValue.split(separator: " ").map(String.init)) == parts }
        guard let match else { return nil }
        self = match
    }

    public var includesCode: Bool { rawValue.split(separator: " ").contains("code") }
    public var includesIDToken: Bool { rawValue.split(separator: " ").contains("id_token") }
    public var includesToken: Bool { rawValue.split(separator: " ").contains("token") }
    /// Default response mode (Multiple Response Types §5): fragment whenever anything but code alone.
    public var defaultResponseMode: ResponseMode { self == .code || self == .none ? .query : .fragment }
}

/// Response modes: query, fragment, form_post, and JARM's JWT modes.
public enum ResponseMode: String, Sendable, Codable, CaseIterable {
    case query, fragment
    case formPost = "form_post"
    case jwt
    case queryJWT = "query.jwt"
    case fragmentJWT = "fragment.jwt"
    case formPostJWT = "form_post.jwt"

    public var isJARM: Bool { self == .jwt || self == .queryJWT || self == .fragmentJWT || self == .formPostJWT }
}

public enum AccessTokenFormat: String, Sendable, Codable, CaseIterable {
    case opaque
    case jwt
}
