import StrongroomCore

/// `nonce` is required whenever `openid` is requested (Baseline).
public struct RequireNonceWithOpenID: Rule {
    public let clause = "FAPI 1.0 Part 1 §5.2.2.2"
    public init() {}
    public func constrain(_ p: inout ProfileRequirements) { p.requireNonceWithOpenID = true }
    public func checkAuthorization(_ f: AuthorizationFacts) throws(OAuthError) {
        if f.requestsOpenID && (f.nonce ?? "").isEmpty { throw fail(.invalidRequest, "nonce is required when openid is requested") }
    }
}
