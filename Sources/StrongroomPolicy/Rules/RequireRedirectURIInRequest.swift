import StrongroomCore

/// `redirect_uri` must be in the request even when only one is registered.
public struct RequireRedirectURIInRequest: Rule {
    public let clause = "FAPI 1.0 Part 1 §5.2.2-9"
    public init() {}
    public func constrain(_ p: inout ProfileRequirements) { p.requireRedirectURIInRequest = true }
    public func checkAuthorization(_ f: AuthorizationFacts) throws(OAuthError) {
        guard f.redirectURIPresent else { throw fail(.invalidRequest, "redirect_uri is required") }
    }
}
