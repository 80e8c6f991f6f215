import StrongroomCore

/// The request object's `aud` must be, or contain, the issuer.
public struct RequireRequestObjectAudience: Rule {
    public let clause = "FAPI 1.0 Part 2 §5.2.2-15"
    let issuer: String
    public init(issuer: String) { self.issuer = issuer }
    public func checkAuthorization(_ f: AuthorizationFacts) throws(OAuthError) {
        guard let ro = f.requestObject else { return }
        guard ro.audiences.contains(issuer) else { throw fail(.invalidRequestObject, "request object aud must be the issuer \(issuer)") }
    }
}
