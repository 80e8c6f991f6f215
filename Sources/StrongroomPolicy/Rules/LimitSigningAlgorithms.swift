import StrongroomCore

/// Every JWS the client or the server produces uses one of these algorithms: request objects,
/// client assertions, ID tokens, userinfo, JARM (the server picks from the composed
/// `ProfileRequirements.signingAlgorithms`).
public struct LimitSigningAlgorithms: Rule {
    public let clause: String
    let algorithms: [JWSAlgorithm]
    public init(_ algorithms: [JWSAlgorithm], clause: String) { self.algorithms = algorithms; self.clause = clause }
    public func constrain(_ p: inout ProfileRequirements) {
        p.signingAlgorithms = (p.signingAlgorithms ?? algorithms).filter(algorithms.contains)
    }
    public func checkClientAuthentication(_ f: ClientAuthenticationFacts) throws(OAuthError) {
        guard let alg = f.assertionAlgorithm, !(algorithms.contains(alg) && f.offeredAssertionAlgorithms.contains(alg)) else { return }
        throw fail(.invalidClient, "Client assertions signed with \(alg.rawValue) are not allowed for \(f.profileName).")
    }
    public func violations(of c: ClientMetadata, _ ctx: ConformanceContext) -> [Violation] {
        let fields: [(String, JWSAlgorithm?)] = [
            ("request_object_signing_alg", c.requestObjectSigningAlg), ("id_token_signed_response_alg", c.idTokenSignedResponseAlg),
            ("userinfo_signed_response_alg", c.userinfoSignedResponseAlg), ("authorization_signed_response_alg", c.authorizationSignedResponseAlg),
            ("token_endpoint_auth_signing_alg", c.tokenEndpointAuthSigningAlg),
        ]
        let allowed = algorithms.map(\.rawValue).joined(separator: " or ")
        return fields.compactMap { field, alg in
            guard let alg, !algorithms.contains(alg) else { return nil }
            return violation(ctx, field, "\(alg.rawValue) not allowed for \(ctx.label) scopes; use \(allowed)")
        }
    }
    public func violations(of s: ServiceSettings, _ ctx: ConformanceContext) -> [Violation] {
        let lists: [(String, [JWSAlgorithm])] = [
            ("algorithms.id_token", s.algorithms.idToken), ("algorithms.request_object", s.algorithms.requestObject),
            ("algorithms.authorization_response", s.algorithms.authorizationResponse), ("algorithms.client_assertion", s.algorithms.clientAssertion),
        ]
        return lists.filter { !$0.1.contains(where: algorithms.contains) }.map {
            violation(ctx, $0.0, "offer at least one of \(algorithms.map(\.rawValue).joined(separator: ", ")) for \(ctx.label)")
        }
    }
}
