import StrongroomCore

/// Public clients are refused: at the authorization endpoint, in client authentication, and in
/// registration.
public struct RejectPublicClients: Rule {
    public let clause: String
    public init(clause: String) { self.clause = clause }
    public func constrain(_ p: inout ProfileRequirements) { p.allowsPublicClients = false }
    public func checkAuthorization(_ f: AuthorizationFacts) throws(OAuthError) {
        if f.client.isPublic { throw fail(.unauthorizedClient, "public clients are not allowed for this profile") }
    }
    public func checkClientAuthentication(_ f: ClientAuthenticationFacts) throws(OAuthError) {
        if f.method == .none { throw fail(.invalidClient, "Public clients are not allowed for \(f.profileName).") }
    }
    public func violations(of c: ClientMetadata, _ ctx: ConformanceContext) -> [Violation] {
        guard c.isPublic else { return [] }
        let methods = ctx.policy.clientAuthMethods.map(\.rawValue).joined(separator: ", ")
        return [violation(ctx, "token_endpoint_auth_method", "public clients (none) are not allowed for \(ctx.label) scopes; use \(methods)")]
    }
}
