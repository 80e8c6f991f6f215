import StrongroomCore

/// `nonce` is required when an ID token is returned from the authorization endpoint.
public struct RequireNonceForFrontChannelIDToken: Rule {
    public let clause = "OpenID Connect Core §3.3.2.11; FAPI 1.0 Part 2 §5.2.2.2"
    public init() {}
    public func constrain(_ p: inout ProfileRequirements) { p.requireNonceForFrontChannelIDToken = true }
    public func checkAuthorization(_ f: AuthorizationFacts) throws(OAuthError) {
        if f.responseType.includesIDToken && (f.nonce ?? "").isEmpty {
            throw fail(.invalidRequest, "nonce is required when an ID token is returned from the authorization endpoint")
        }
    }
}
