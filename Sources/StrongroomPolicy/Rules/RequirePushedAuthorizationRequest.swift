import StrongroomCore

/// The request must come through PAR.
public struct RequirePushedAuthorizationRequest: Rule {
    public let clause = "FAPI 2.0 Security Profile §5.3.2.2-2"
    public init() {}
    public func constrain(_ p: inout ProfileRequirements) { p.requirePAR = true }
    public func checkAuthorization(_ f: AuthorizationFacts) throws(OAuthError) {
        if !f.viaPAR { throw fail(.invalidRequest, "pushed authorization requests are required (use the PAR endpoint)") }
    }
}
