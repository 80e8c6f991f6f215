import Foundation
import StrongroomCore
import StrongroomJOSE
import StrongroomPolicy
import StrongroomStorage

/// A client that proved who it is at a back-channel endpoint.
struct AuthenticatedClient: Sendable {
    var client: Client
    var method: ClientAuthMethod
    /// The algorithm of the client assertion, for the JWT methods.
    var assertionAlgorithm: JWSAlgorithm?
    var assertionAudiences: [String]
    /// The TLS client certificate of the request, if any (for binding tokens).
    var certificate: ClientCertificate?
    var clientID: String { client.clientID }
}

extension Engine {
    static let assertionType = ClientAuthenticator.assertionType
}

/// Client authentication at the back-channel endpoints, as a processor with what it uses: the
/// client registry, the clients' keys, the CA trust anchors, the shared replay store (assertion
/// `jti`s), the clock, the endpoint URLs (assertion audiences) and the rules.
struct ClientAuthenticator: Sendable {
    static let assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

    let service: ServiceSettings
    let clients: ClientRegistry
    let keys: ClientKeyResolver
    let trustAnchors: CertificateTrustAnchors
    let replay: any ReplayCache
    let clock: any TimeSource
    let urls: EndpointURLs
    let ruleBook: RuleBook

    var issuer: String { service.issuer }
    var now: Date { clock.now() }

    /// Authenticates the client of a token, PAR, introspection or revocation request
    /// (RFC 6749 §2.3, OIDC Core §9, RFC 7523 §3, RFC 8705 §2). Every failure is `invalid_client`
    /// (401) except malformed requests (`invalid_request`).
    func authenticate(_ request: TransportRequest, form: [Param], endpointPath: String) async throws(OAuthError) -> AuthenticatedClient {
        var basicID: String?
        var basicSecret: String?
        if let auth = request.header("authorization") {
            let parts = auth.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "basic" {
                guard let data = Data(base64Encoded: String(parts[1])), let decoded = String(data: data, encoding: .utf8),
                      let colon = decoded.firstIndex(of: ":") else {
                    throw OAuthError.invalidClient("Malformed HTTP Basic credentials.")
                }
                // RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
                basicID = FormCoding.unescape(String(decoded[..<colon]))
                basicSecret = FormCoding.unescape(String(decoded[decoded.index(after: colon)...]))
                guard basicID != nil, basicSecret != nil else { throw OAuthError.invalidClient("Malformed HTTP Basic credentials.") }
            }
        }
        let formID = try form.single("client_id")
        let formSecret = try form.single("client_secret")
        let assertion = try form.single("client_assertion")
        let assertionType = try form.single("client_assertion_type")

        // RFC 6749 §2.3: one authentication method per request.
        let presented = [basicSecret != nil, formSecret != nil, assertion != nil].filter { $0 }.count
        if presented > 1 { throw OAuthError.invalidRequest("More than one client authentication method was used.") }
        if assertion != nil && assertionType != Self.assertionType {
            throw OAuthError.invalidClient("client_assertion_type must be \(Self.assertionType)")
        }
        if assertion == nil && assertionType != nil { throw OAuthError.invalidRequest("client_assertion_type without client_assertion") }

        var unverified: UnverifiedJWS?
        if let assertion {
            do { unverified = try UnverifiedJWS(compact: assertion) } catch {
                throw OAuthError.invalidClient("The client assertion is malformed.", detail: "\(error)")
            }
            if let unverified { try JWTKind.checkAssertion(unverified) }
        }
        let assertionSub = unverified?.payload["sub"]?.stringValue
        // FAPI 1.0 Part 1 §5.2.2-19: identifiers given more than one way must agree.
        let ids = [basicID, formID, assertionSub].compactMap { $0 }
        guard let clientID = ids.first else { throw OAuthError.invalidClient("Client authentication is required.") }
        if ids.contains(where: { $0 != clientID }) {
            throw OAuthError.invalidClient("The client identifiers in the request do not match.")
        }
        let client: Client
        do {
            guard let c = try await clients.lookup(clientID) else { throw OAuthError.invalidClient("Unknown client.") }
            client = c
        } catch let e as OAuthError { throw e } catch {
            throw OAuthError.failure(error, "client lookup")
        }
        let registered = client.metadata.tokenEndpointAuthMethod
        let cert = request.clientCertificate
        var result = AuthenticatedClient(client: client, method: registered, assertionAlgorithm: nil, assertionAudiences: [], certificate: cert)

        switch registered {
        case .clientSecretBasic, .clientSecretPost:
            let secret = registered == .clientSecretBasic ? basicSecret : formSecret
            guard let secret else {
                throw OAuthError.invalidClient("The client must authenticate with \(registered.rawValue).")
            }
            guard clients.secretMatches(client, secret) else { throw OAuthError.invalidClient("Client authentication failed.") }
        case .clientSecretJWT, .privateKeyJWT:
            guard let jws = unverified else {
                throw OAuthError.invalidClient("The client must authenticate with \(registered.rawValue).")
            }
            let verified = try await verifyClientAssertion(jws, client: client, endpointPath: endpointPath)
            result.assertionAlgorithm = verified.algorithm
            result.assertionAudiences = audiences(verified.payload["aud"].map { $0 })
            // FAPI 2.0 Security Profile §5.3.2.1: decided from every profile this client can be held
            // to, before the request's own profile is known (which, at the token endpoint, needs the
            // code or refresh token the request would spend).
            let possible = ruleBook.rules(for: ProfileSelector(service: service).profiles(for: client.metadata))
            try possible.checkClientAssertion(ClientAuthenticationFacts(
                method: registered, assertionAlgorithm: verified.algorithm, assertionAudiences: result.assertionAudiences,
                issuer: issuer, offeredAssertionAlgorithms: service.algorithms.clientAssertion,
                profileName: possible.requirements.profile.displayName,
                assertionAudienceIsString: verified.payload["aud"]?.stringValue != nil))
        case .tlsClientAuth:
            guard basicSecret == nil, formSecret == nil, assertion == nil else {
                throw OAuthError.invalidClient("The client must authenticate with tls_client_auth.")
            }
            guard let cert else { throw OAuthError.invalidClient("A client certificate is required (tls_client_auth).") }
            guard await trustAnchors.validate(cert, at: now) else {
                throw OAuthError.invalidClient("The client certificate is not issued by a trusted CA.", detail: "subject \(cert.subjectDN)")
            }
            guard certificateMatchesRegistration(cert, client.metadata) else {
                throw OAuthError.invalidClient("The client certificate does not match the registered subject.", detail: "subject \(cert.subjectDN)")
            }
        case .selfSignedTLSClientAuth:
            guard basicSecret == nil, formSecret == nil, assertion == nil else {
                throw OAuthError.invalidClient("The client must authenticate with self_signed_tls_client_auth.")
            }
            guard let cert else { throw OAuthError.invalidClient("A client certificate is required (self_signed_tls_client_auth).") }
            let keys = try await self.keys.keys(for: client.metadata)
            guard cert.publicKeyMatches(keys) else {
                throw OAuthError.invalidClient("The client certificate does not match the client's registered keys.")
            }
            if cert.notAfter < now || cert.notBefore > now.addingTimeInterval(TimeInterval(service.clockSkew)) {
                throw OAuthError.invalidClient("The client certificate is outside its validity period.")
            }
        case .none:
            guard basicSecret == nil, formSecret == nil, assertion == nil else {
                throw OAuthError.invalidClient("This public client has no credentials to present.")
            }
        }
        return result
    }

    /// RFC 8705 §2.1.2: exactly one registered subject value must match the certificate.
    func certificateMatchesRegistration(_ cert: ClientCertificate, _ m: ClientMetadata) -> Bool {
        if let dn = m.tlsClientAuthSubjectDN { return cert.subjectMatches(dn) }
        if let v = m.tlsClientAuthSANDNS { return cert.sanDNS.contains { $0.lowercased() == v.lowercased() } }
        if let v = m.tlsClientAuthSANURI { return cert.sanURI.contains(v) }
        if let v = m.tlsClientAuthSANIP { return cert.sanIP.contains(v) }
        if let v = m.tlsClientAuthSANEmail { return cert.sanEmail.contains { $0.lowercased() == v.lowercased() } }
        return false
    }

    /// RFC 7523 §3 / OIDC Core §9: `iss` = `sub` = client_id, `aud` names this server, `exp` in the
    /// future, `jti` never seen before (checked in storage so it holds across nodes).
    func verifyClientAssertion(_ jws: UnverifiedJWS, client: Client, endpointPath: String) async throws(OAuthError) -> VerifiedJWS {
        let m = client.metadata
        var allowed = service.algorithms.clientAssertion
        if m.tokenEndpointAuthMethod == .privateKeyJWT { allowed = allowed.filter { !$0.isSymmetric } }
        if m.tokenEndpointAuthMethod == .clientSecretJWT { allowed = allowed.filter(\.isSymmetric) }
        let policy = VerificationPolicy(allowedAlgorithms: allowed, requiredAlgorithm: m.tokenEndpointAuthSigningAlg)
        let verified: VerifiedJWS
        if m.tokenEndpointAuthMethod == .clientSecretJWT {
            guard let secret = client.secretForHMAC else { throw OAuthError.invalidClient("Client authentication failed.") }
            do { verified = try JWSVerifier.verifyHMAC(jws, secret: secret, policy: policy) } catch {
                throw OAuthError.invalidClient("The client assertion could not be verified.", detail: "\(error)")
            }
        } else {
            let keys = try await self.keys.keys(for: m)
            switch Self.verifyAssertion(jws, keys: keys, policy: policy) {
            case .success(let v):
                verified = v
            case .failure(.noSuitableKey) where m.jwksURI != nil:
                // The client may have rotated its keys: refetch once.
                let fresh = try await self.keys.keys(for: m, refresh: true)
                switch Self.verifyAssertion(jws, keys: fresh, policy: policy) {
                case .success(let v): verified = v
                case .failure(let e): throw OAuthError.invalidClient("The client assertion could not be verified.", detail: "\(e)")
                }
            case .failure(let e):
                throw OAuthError.invalidClient("The client assertion could not be verified.", detail: "\(e)")
            }
        }
        let p = verified.payload
        guard p["iss"]?.stringValue == client.clientID, p["sub"]?.stringValue == client.clientID else {
            throw OAuthError.invalidClient("The client assertion's iss and sub must be the client_id.")
        }
        let aud = audiences(p["aud"])
        let acceptable = Set([issuer] + urls.endpointURLs(EndpointPath.token) + urls.endpointURLs(endpointPath))
        guard aud.contains(where: acceptable.contains) else {
            throw OAuthError.invalidClient("The client assertion's aud must name this server.", detail: "aud \(aud)")
        }
        let skew = TimeInterval(service.clockSkew)
        guard let exp = dateFrom(p["exp"]) else { throw OAuthError.invalidClient("The client assertion has no exp.") }
        guard exp.addingTimeInterval(skew) > now else { throw OAuthError.invalidClient("The client assertion has expired.") }
        if let iat = dateFrom(p["iat"]), iat > now.addingTimeInterval(skew) {
            throw OAuthError.invalidClient("The client assertion was issued in the future.")
        }
        if let nbf = dateFrom(p["nbf"]), nbf > now.addingTimeInterval(skew) {
            throw OAuthError.invalidClient("The client assertion is not yet valid.")
        }
        // A far-future exp would let a stolen assertion live on; one hour is generous.
        if exp.timeIntervalSince(now) > 3600 + skew {
            throw OAuthError.invalidClient("The client assertion's exp is too far in the future.")
        }
        guard let jti = p["jti"]?.stringValue, !jti.isEmpty, jti.count <= 512 else {
            throw OAuthError.invalidClient("The client assertion has no jti.")
        }
        do {
            let fresh = try await replay.remember(namespace: "assertion:" + client.clientID, value: jti,
                                                   expiresAt: exp.addingTimeInterval(skew), now: now)
            guard fresh else { throw OAuthError.invalidClient("The client assertion has been used before (jti replay).") }
        } catch let e as OAuthError { throw e } catch {
            throw OAuthError.failure(error, "replay cache")
        }
        return verified
    }

    static func verifyAssertion(_ jws: UnverifiedJWS, keys: JWKSet, policy: VerificationPolicy) -> Result<VerifiedJWS, JOSEError> {
        do { return .success(try JWSVerifier.verify(jws, keys: keys, policy: policy)) } catch { return .failure(error) }
    }

    /// The client-authentication rules of every selected profile (their union): each rule's
    /// `checkClientAuthentication` face, once the profiles of the request are known.
    func enforce(_ auth: AuthenticatedClient, profiles: Set<Profile>) throws(OAuthError) {
        let rules = ruleBook.rules(for: profiles)
        try rules.checkClientAuthentication(ClientAuthenticationFacts(
            method: auth.method, assertionAlgorithm: auth.assertionAlgorithm, assertionAudiences: auth.assertionAudiences,
            issuer: issuer, offeredAssertionAlgorithms: service.algorithms.clientAssertion, profileName: rules.requirements.profile.displayName))
    }
}
