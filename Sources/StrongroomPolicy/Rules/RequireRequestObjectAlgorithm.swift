import StrongroomCore

/// The request object's algorithm must be one the profile allows.
public struct RequireRequestObjectAlgorithm: Rule {
    public let clause = "FAPI 1.0 Part 2 §8.6"
    let allowed: [JWSAlgorithm]
    public init(allowed: [JWSAlgorithm]) { self.allowed = allowed }
    public func checkAuthorization(_ f: AuthorizationFacts) throws(OAuthError) {
        guard let ro = f.requestObject else { return }
        guard allowed.contains(ro.algorithm) else {
            throw fail(.invalidRequestObject, "request object must be signed with \(allowed.map(\.rawValue).joined(separator: " or "))")
        }
    }
}
