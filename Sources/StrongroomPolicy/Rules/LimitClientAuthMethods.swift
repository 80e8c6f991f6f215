import StrongroomCore

/// Confidential clients authenticate with one of these methods only (public clients are
/// `RejectPublicClients`' business).
public struct LimitClientAuthMethods: Rule {
    public let clause: String
    let methods: [ClientAuthMethod]
    public init(_ methods: [ClientAuthMethod], clause: String) { self.methods = methods; self.clause = clause }
    public func constrain(_ p: inout ProfileRequirements) { p.clientAuthMethods = p.clientAuthMethods.filter(methods.contains) }
    public func checkClientAuthentication(_ f: ClientAuthenticationFacts) throws(OAuthError) {
        guard f.method != .none, !methods.contains(f.method) else { return }
        throw fail(.invalidClient, "\(f.method.rawValue) is not allowed for \(f.profileName).")
    }
    public func violations(of c: ClientMetadata, _ ctx: ConformanceContext) -> [Violation] {
        guard !c.isPublic, !methods.contains(c.tokenEndpointAuthMethod) else { return [] }
        return [violation(ctx, "token_endpoint_auth_method", "\(c.tokenEndpointAuthMethod.rawValue) is not allowed for \(ctx.label) scopes; use \(methods.map(\.rawValue).joined(separator: ", "))")]
    }
    public func violations(of s: ServiceSettings, _ ctx: ConformanceContext) -> [Violation] {
        guard !s.clientAuthMethods.contains(where: methods.contains) else { return [] }
        return [violation(ctx, "client_auth_methods", "enable at least one of \(methods.map(\.rawValue).joined(separator: ", ")) for \(ctx.label)")]
    }
}
