import StrongroomCore

/// `state` is required when `openid` is not requested (reference: read-only request table).
public struct RequireStateWithoutOpenID: Rule {
    public let clause = "FAPI 1.0 Part 1 §5.2.2.3"
    public init() {}
    public func constrain(_ p: inout ProfileRequirements) { p.requireStateWithoutOpenID = true }
    public func checkAuthorization(_ f: AuthorizationFacts) throws(OAuthError) {
        if !f.requestsOpenID && (f.state ?? "").isEmpty { throw fail(.invalidRequest, "state is required when openid is not requested") }
    }
}
