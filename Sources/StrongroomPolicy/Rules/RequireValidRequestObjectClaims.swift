import Foundation
import StrongroomCore

/// Whatever the profile, a request object's own time and audience claims hold when present
/// (RFC 7519 §4.1.4/5, RFC 9101 §10.8); the FAPI profiles add the stricter `RequireRequestObject*`
/// rules, which come first in their lists.
public struct RequireValidRequestObjectClaims: Rule {
    public let clause = "RFC 9101 §10.8"
    let issuer: String
    public init(issuer: String) { self.issuer = issuer }
    public func checkAuthorization(_ f: AuthorizationFacts) throws(OAuthError) {
        guard let ro = f.requestObject else { return }
        let skew = TimeInterval(f.clockSkew)
        if let exp = ro.exp, exp.addingTimeInterval(skew) <= f.now {
            throw fail(.invalidRequestObject, "the request object has expired")
        }
        if let nbf = ro.nbf, nbf > f.now.addingTimeInterval(skew) {
            throw fail(.invalidRequestObject, "the request object is not yet valid")
        }
        if !ro.audiences.isEmpty && !ro.audiences.contains(issuer) {
            throw fail(.invalidRequestObject, "the request object's aud must be the issuer \(issuer)")
        }
    }
}
