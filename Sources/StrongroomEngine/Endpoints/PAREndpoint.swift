import Foundation
import StrongroomCore
import StrongroomJOSE
import StrongroomPolicy
import StrongroomStorage

extension Engine {
    /// POST /par (RFC 9126 §2): authenticates the client, validates the request exactly as the
    /// authorization endpoint would, stores it, and answers with a single-use `request_uri`.
    /// Rate limits (`limits.par`) as at the token endpoint. A `DPoP` proof binds the code to its
    /// key (RFC 9449 §10.1), as `dpop_jkt` does; both must then name the same key.
    public func pushedAuthorizationRequest(_ request: TransportRequest) async -> EngineResponse {
        var clientID: String? = nil
        var profile: Profile? = nil
        if let refusal = limiter.check(.par, address: request.remoteAddress) {
            let e = tooManyRequests(refusal, from: "address")
            logRefusal(e, endpoint: "par", profile: nil, request: request)
            return .oauthError(e)
        }
        do {
            let form = try request.backChannelForm()
            let proof = try await dpopProof(request)
            let auth = try await clientAuthenticator.authenticate(request, form: form, endpointPath: EndpointPath.par)
            clientID = auth.clientID
            try admit(auth, at: .par, request: request)
            if form.contains(where: { $0.name == "request_uri" }) {
                throw OAuthError.invalidRequest("request_uri must not be sent to the PAR endpoint (RFC 9126 §2.1)")
            }
            let authParams: Set<String> = ["client_secret", "client_assertion", "client_assertion_type"]
            let params = form.filter { !authParams.contains($0.name) }
            let validated: ValidatedAuthorization
            do {
                validated = try await authorizationValidator.validate(outer: params, client: auth.client, channel: .pushed)
            } catch {
                switch error {
                case .page(let e, let p): profile = p; throw e
                case .redirect(let e, let t): profile = t.profile; throw e
                }
            }
            profile = validated.profile
            try clientAuthenticator.enforce(auth, profiles: Set(validated.profiles ?? [validated.profile]))
            if let proof, let named = validated.dpopJKT, !constantTimeEquals(named, proof.thumbprint) {
                throw OAuthError(.invalidDPoPProof, "dpop_jkt does not match the key of the DPoP proof", rule: "RFC 9449 sec. 10.1")
            }
            let requestURI = Self.parURNPrefix + random.token(bits: 256)
            let lifetime = service.lifetimes.pushedRequest
            do {
                try await storage.savePushedRequest(PushedRequestRecord(
                    requestURIHash: hasher.hash(requestURI), clientID: auth.clientID, parameters: params.dictionary,
                    requestObjectClaims: nil, profile: validated.profile,
                    expiresAt: now.addingTimeInterval(TimeInterval(lifetime)), createdAt: now, dpopJKT: proof?.thumbprint))
            } catch { throw OAuthError.failure(error, "PAR save") }
            return withDPoPNonce(.json(["request_uri": .string(requestURI), "expires_in": .number(Double(lifetime))], status: 201))
        } catch let raw {
            if clientID == nil { _ = limiter.take(.par, address: request.remoteAddress) }
            let error = OAuthError.wrap(raw)
            var e = error
            // RFC 9126 §2.3: errors as at the token endpoint, never redirected.
            e.redirectable = false
            if e.status >= 300 && e.status < 400 || e.code == .accessDenied { e.status = 400 }
            logRefusal(e, endpoint: "par", profile: profile, request: request, clientID: clientID)
            return withDPoPNonce(.oauthError(e))
        }
    }
}
