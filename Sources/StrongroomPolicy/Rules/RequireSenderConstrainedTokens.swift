import StrongroomCore

/// Access tokens are sender-constrained: issued bound, accepted only bound. FAPI 1.0 knows one
/// way, RFC 8705 certificate binding, which registered clients must ask for; FAPI 2.0 also takes
/// DPoP (RFC 9449), so a client meets it with a certificate or a proof in each token request.
public struct RequireSenderConstrainedTokens: Rule {
    public let clause: String
    /// DPoP is an accepted sender constraint besides mutual TLS.
    public let dpop: Bool
    public init(clause: String, dpop: Bool = false) { self.clause = clause; self.dpop = dpop }
    public func constrain(_ p: inout ProfileRequirements) { p.requireSenderConstrainedTokens = true }
    public func checkTokenRequest(_ f: TokenRequestFacts) throws(OAuthError) {
        if f.certificatePresented || (dpop && f.dpopProofPresented) { return }
        throw fail(.invalidRequest, dpop
            ? "access tokens must be sender-constrained: send a DPoP proof or present a TLS client certificate"
            : "a TLS client certificate is required: access tokens for this client are certificate-bound")
    }
    public func checkResource(_ f: ResourceFacts) throws(OAuthError) {
        if f.certificateBound || (dpop && f.dpopBound) { return }
        throw fail(.invalidToken, "the access token must be sender-constrained for the profiles its scopes select", status: 401)
    }
    public func violations(of c: ClientMetadata, _ ctx: ConformanceContext) -> [Violation] {
        // With DPoP any confidential client can bind its tokens at each request.
        guard !dpop, !c.tlsClientCertificateBoundAccessTokens else { return [] }
        return [violation(ctx, "tls_client_certificate_bound_access_tokens", "must be true for \(ctx.label) scopes: access tokens must be certificate-bound")]
    }
    public func violations(of s: ServiceSettings, _ ctx: ConformanceContext) -> [Violation] {
        guard !dpop, !s.tlsClientCertificateBoundAccessTokens else { return [] }
        return [violation(ctx, "tls_client_certificate_bound_access_tokens", "must be true for \(ctx.label) (certificate-bound access tokens)")]
    }
}
