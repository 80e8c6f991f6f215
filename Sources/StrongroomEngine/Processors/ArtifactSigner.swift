import Foundation
import StrongroomCore
import StrongroomJOSE
import StrongroomPolicy

/// Signs what the server issues (ID tokens, JWT access tokens, JARM responses, userinfo and
/// introspection JWTs) with the server's keys, in an algorithm the request's rules permit.
struct ArtifactSigner: Sendable {
    let keys: KeyManager
    let ruleBook: RuleBook

    /// The algorithm for an artifact: the client's registered one if the rules of `profiles`
    /// permit it and a key exists, else the first permitted.
    func algorithm(registered: JWSAlgorithm?, offered: [JWSAlgorithm], profiles: Set<Profile>) -> JWSAlgorithm {
        let permitted = ruleBook.rules(for: profiles).requirements.permitted(offered).filter { keys.signer(for: $0) != nil }
        if let registered, permitted.contains(registered) { return registered }
        return permitted.first ?? .ps256
    }

    func sign(_ claims: [String: JSONValue], algorithm: JWSAlgorithm, type: String? = nil) throws(OAuthError) -> String {
        guard let signer = keys.signer(for: algorithm) else {
            throw OAuthError.serverError(detail: "no signing key for \(algorithm.rawValue)")
        }
        do { return try signer.sign(payload: claims, type: type) } catch {
            throw OAuthError.failure(error, "signing failed")
        }
    }
}
