import StrongroomCore

/// An ID token from the front channel needs `openid` (OIDC Core §3.3.2.1).
public struct RequireOpenIDForIDToken: Rule {
    public let clause = "OpenID Connect Core §3.3.2.1"
    public init() {}
    public func checkAuthorization(_ f: AuthorizationFacts) throws(OAuthError) {
        if f.responseType.includesIDToken && !f.requestsOpenID {
            throw fail(.invalidRequest, "response_type with id_token requires the openid scope")
        }
    }
}
