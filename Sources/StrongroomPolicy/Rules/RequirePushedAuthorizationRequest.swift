import StrongroomCore

/// The request must come through PAR, and the `request_uri` it gets lives less than 600 seconds.
public struct RequirePushedAuthorizationRequest: Rule {
    public let clause = "FAPI 2.0 Security Profile §5.3.2.2-2"
    public init() {}
    public func constrain(_ p: inout ProfileRequirements) { p.requirePAR = true }
    public func checkAuthorization(_ f: AuthorizationFacts) throws(OAuthError) {
        if !f.viaPAR { throw fail(.invalidRequest, "pushed authorization requests are required (use the PAR endpoint)") }
    }
    public func violations(of s: ServiceSettings, _ ctx: ConformanceContext) -> [Violation] {
        guard s.lifetimes.pushedRequest >= 600 else { return [] }
        return [violation(ctx, "lifetimes.pushed_request", "must be less than 600 seconds for \(ctx.label) (request_uri lifetime)")]
    }
}
