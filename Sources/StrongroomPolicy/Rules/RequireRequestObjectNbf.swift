import Foundation
import StrongroomCore

/// The request object must carry `nbf`, no more than the maximum lifetime in the past and not in the future.
public struct RequireRequestObjectNbf: Rule {
    public let clause = "FAPI 1.0 Part 2 §5.2.2-17"
    let maxAge: Int
    public init(maxAge: Int) { self.maxAge = maxAge }
    public func checkAuthorization(_ f: AuthorizationFacts) throws(OAuthError) {
        guard let ro = f.requestObject else { return }
        guard let nbf = ro.nbf else { throw fail(.invalidRequestObject, "request object has no nbf claim") }
        if nbf > f.now.addingTimeInterval(TimeInterval(f.clockSkew)) { throw fail(.invalidRequestObject, "request object nbf is in the future") }
        if nbf < f.now.addingTimeInterval(-TimeInterval(maxAge + f.clockSkew)) {
            throw fail(.invalidRequestObject, "request object nbf is more than \(maxAge / 60) minutes in the past")
        }
    }
}
