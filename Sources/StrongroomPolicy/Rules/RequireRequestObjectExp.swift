import Foundation
import StrongroomCore

/// The request object must carry `exp`, and must not have expired.
public struct RequireRequestObjectExp: Rule {
    public let clause = "FAPI 1.0 Part 2 §5.2.2-13"
    public init() {}
    public func checkAuthorization(_ f: AuthorizationFacts) throws(OAuthError) {
        guard let ro = f.requestObject else { return }
        guard let exp = ro.exp else { throw fail(.invalidRequestObject, "request object has no exp claim") }
        guard exp.addingTimeInterval(TimeInterval(f.clockSkew)) > f.now else { throw fail(.invalidRequestObject, "request object has expired") }
    }
}
