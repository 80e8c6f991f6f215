import Foundation
import StrongroomCore

/// `exp` − `nbf` must not exceed the maximum lifetime (60 minutes).
public struct RequireRequestObjectLifetime: Rule {
    public let clause = "FAPI 1.0 Part 2 §5.2.2-13"
    let maxLifetime: Int
    public init(maxLifetime: Int) { self.maxLifetime = maxLifetime }
    public func constrain(_ p: inout ProfileRequirements) {
        p.requestObjectMaxLifetime = min(p.requestObjectMaxLifetime ?? maxLifetime, maxLifetime)
    }
    public func checkAuthorization(_ f: AuthorizationFacts) throws(OAuthError) {
        guard let ro = f.requestObject, let exp = ro.exp, let nbf = ro.nbf else { return }
        if exp.timeIntervalSince(nbf) > TimeInterval(maxLifetime) {
            throw fail(.invalidRequestObject, "request object lifetime (exp - nbf) exceeds \(maxLifetime / 60) minutes")
        }
    }
}
