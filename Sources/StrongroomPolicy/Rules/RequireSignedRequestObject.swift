import StrongroomCore

/// A signed request object is required (`request` by value, or pushed via PAR), and only its
/// parameters are used (FAPI 1.0 Part 2 §5.2.2-10: the engine reads
/// `ProfileRequirements.requireSignedRequestObject` when it resolves the parameters).
public struct RequireSignedRequestObject: Rule {
    public let clause = "FAPI 1.0 Part 2 §5.2.2-1"
    public init() {}
    public func constrain(_ p: inout ProfileRequirements) { p.requireSignedRequestObject = true }
    public func checkAuthorization(_ f: AuthorizationFacts) throws(OAuthError) {
        guard let ro = f.requestObject else { throw fail(.invalidRequest, "a signed request object is required (request or request_uri)") }
        // Part 2 §5.2.2-10: every parameter, scope included, comes from the request object.
        guard ro.claimNames.contains("scope") else { throw fail(.invalidRequestObject, "the request object must contain scope") }
    }
    public func violations(of c: ClientMetadata, _ ctx: ConformanceContext) -> [Violation] {
        guard c.requestObjectSigningAlg == nil else { return [] }
        let allowed = (ctx.policy.signingAlgorithms ?? ctx.service.algorithms.requestObject).map(\.rawValue).joined(separator: " or ")
        return [violation(ctx, "request_object_signing_alg", "must be set to \(allowed) for \(ctx.label) scopes: a signed request object is required")]
    }
}
