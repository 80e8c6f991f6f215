import Foundation
import StrongroomCore

/// Redirect URIs must use https, in requests and in registrations.
public struct RequireHTTPSRedirectURI: Rule {
    public let clause = "FAPI 1.0 Part 1 §5.2.2-20"
    public init() {}
    public func constrain(_ p: inout ProfileRequirements) { p.requireHTTPSRedirectURIs = true }
    public func checkAuthorization(_ f: AuthorizationFacts) throws(OAuthError) {
        guard URLComponents(string: f.redirectURI)?.scheme?.lowercased() == "https" else {
            throw fail(.invalidRequest, "redirect_uri must use https")
        }
    }
    public func violations(of c: ClientMetadata, _ ctx: ConformanceContext) -> [Violation] {
        c.redirectURIs.filter { URLComponents(string: $0)?.scheme?.lowercased() != "https" }
            .map { violation(ctx, "redirect_uris", "redirect URI '\($0)' must use https") }
    }
}
