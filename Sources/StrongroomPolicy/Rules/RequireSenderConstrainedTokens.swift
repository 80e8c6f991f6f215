import StrongroomCore

/// Access tokens are sender-constrained (RFC 8705 certificate binding): issued bound, accepted
/// only bound, and registered clients must ask for it.
public struct RequireSenderConstrainedTokens: Rule {
    public let clause: String
    public init(clause: String) { self.clause = clause }
    public func constrain(_ p: inout ProfileRequirements) { p.requireSenderConstrainedTokens = true }
    public func checkTokenRequest(_ f: TokenRequestFacts) throws(OAuthError) {
        guard !f.certificatePresented, !f.dpopProofPresented else { return }
        throw fail(.invalidRequest, "a TLS client certificate is required: access tokens for this client are certificate-bound")
    }
    public func checkResource(_ f: ResourceFacts) throws(OAuthError) {
        guard !f.certificateBound, !f.dpopBound else { return }
        throw fail(.invalidToken, "the access token must be sender-constrained for the profiles its scopes select", status: 401)
    }
    public func violations(of c: ClientMetadata, _ ctx: ConformanceContext) -> [Violation] {
        guard !c.tlsClientCertificateBoundAccessTokens else { return [] }
        return [violation(ctx, "tls_client_certificate_bound_access_tokens", "must be true for \(ctx.label) scopes: access tokens must be certificate-bound")]
    }
    public func violations(of s: ServiceSettings, _ ctx: ConformanceContext) -> [Violation] {
        guard !s.tlsClientCertificateBoundAccessTokens else { return [] }
        return [violation(ctx, "tls_client_certificate_bound_access_tokens", "must be true for \(ctx.label) (certificate-bound access tokens)")]
    }
}
