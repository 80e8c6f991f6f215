import Foundation
import StrongroomCore

/// One unmet requirement: what is wrong, and the rule it breaks.
public struct Violation: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The profile that imposes the rule.
    public var profile: Profile
    /// The metadata field at fault (`redirect_uris`, `token_endpoint_auth_method`, ...).
    public var field: String
    /// Human sentence naming the rule and its clause.
    public var message: String
    public init(profile: Profile, field: String, message: String) {
        self.profile = profile; self.field = field; self.message = message
    }
    public var description: String { "\(field): \(message)" }
}

/// Configuration-time checks of a client against every profile its allowed scopes imply
/// (reference: client configuration tables): the structural rules every client meets, then each
/// profile's rules' configuration faces — the same rule types the requests are judged by.
public struct ClientConformance: Sendable {
    public let service: ServiceSettings
    public init(service: ServiceSettings) { self.service = service }

    public func violations(of client: ClientMetadata) -> [Violation] {
        var out: [Violation] = []
        out += structural(client)
        let selector = ProfileSelector(service: service)
        for profile in selector.profiles(for: client).sorted() {
            out += violations(of: client, against: profile)
        }
        // De-duplicate identical messages from stricter profiles repeating weaker ones.
        var seen = Set<String>()
        return out.filter { seen.insert($0.field + "|" + $0.message).inserted }
    }

    /// What one profile's rules demand of a client's registration (each rule's configuration face).
    public func violations(of client: ClientMetadata, against profile: Profile) -> [Violation] {
        let set = RuleSet(profiles: [profile], service: service)
        let context = ConformanceContext(profile: profile, service: service, policy: set.requirements)
        return set.rules.flatMap { $0.violations(of: client, context) }
    }

    /// Rules every client meets whatever its profile (RFC 7591, RFC 6749 §3.1.2).
    func structural(_ c: ClientMetadata) -> [Violation] {
        var out: [Violation] = []
        func add(_ field: String, _ message: String) { out.append(Violation(profile: .oauth, field: field, message: message)) }
        if c.grantTypes.contains(.authorizationCode) && c.redirectURIs.isEmpty {
            add("redirect_uris", "at least one redirect URI is required for the authorization_code grant (RFC 6749 §3.1.2.2)")
        }
        for uri in c.redirectURIs {
            // RFC 9700 §4.1, OIDC Registration §2: no script-capable or local schemes, no whitespace
            // or control characters (they end up in Location headers and form actions).
            if uri.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F }) {
                add("redirect_uris", "'\(uri.unicodeScalars.map { $0.value < 0x21 || $0.value == 0x7F ? "?" : String($0) }.joined())' contains whitespace or control characters")
                continue
            }
            if let scheme = URLComponents(string: uri)?.scheme?.lowercased(), ["javascript", "data", "vbscript", "file", "about", "blob"].contains(scheme) {
                add("redirect_uris", "'\(uri)' uses the \(scheme): scheme, which is never a redirect URI (RFC 9700 §4.1)")
                continue
            }
            guard let u = URLComponents(string: uri), let scheme = u.scheme, u.host != nil || scheme != "https" else {
                add("redirect_uris", "'\(uri)' is not an absolute URI (RFC 6749 §3.1.2)")
                continue
            }
            if u.fragment != nil { add("redirect_uris", "'\(uri)' must not contain a fragment (RFC 6749 §3.1.2)") }
            if scheme == "http", !(u.host == "localhost" || u.host == "127.0.0.1" || u.host == "[::1]") {
                add("redirect_uris", "'\(uri)' uses http on a non-loopback host (RFC 9700 §4.1.1)")
            }
        }
        if !service.clientAuthMethods.contains(c.tokenEndpointAuthMethod) {
            add("token_endpoint_auth_method", "\(c.tokenEndpointAuthMethod.rawValue) is not enabled on this service")
        }
        if c.tokenEndpointAuthMethod == .privateKeyJWT || c.tokenEndpointAuthMethod == .selfSignedTLSClientAuth {
            if c.jwks == nil && c.jwksURI == nil {
                add("jwks", "\(c.tokenEndpointAuthMethod.rawValue) needs the client's public keys in jwks or jwks_uri")
            }
        }
        if c.jwks != nil && c.jwksURI != nil {
            add("jwks_uri", "jwks and jwks_uri must not both be present (RFC 7591 §2)")
        }
        if let uri = c.jwksURI, URLComponents(string: uri)?.scheme != "https" {
            add("jwks_uri", "must be an https URL")
        }
        if c.tokenEndpointAuthMethod == .tlsClientAuth {
            let subjects = [c.tlsClientAuthSubjectDN, c.tlsClientAuthSANDNS, c.tlsClientAuthSANURI, c.tlsClientAuthSANIP, c.tlsClientAuthSANEmail].compactMap { $0 }
            if subjects.count != 1 {
                add("tls_client_auth_subject_dn", "tls_client_auth needs exactly one of tls_client_auth_subject_dn or a tls_client_auth_san_* value (RFC 8705 §2.1.2)")
            }
        }
        if c.tokenEndpointAuthMethod == .none && c.grantTypes.contains(.clientCredentials) {
            add("grant_types", "public clients cannot use client_credentials (RFC 6749 §4.4)")
        }
        for rt in c.responseTypes where !service.responseTypes.contains(rt) {
            add("response_types", "'\(rt.rawValue)' is not supported by this service")
        }
        for gt in c.grantTypes where !service.grantTypes.contains(gt) {
            add("grant_types", "'\(gt.rawValue)' is not supported by this service")
        }
        if c.responseTypes.contains(where: \.includesCode) && !c.grantTypes.contains(.authorizationCode) {
            add("grant_types", "response type 'code' needs the authorization_code grant (RFC 7591 §2.1)")
        }
        if let scopes = c.allowedScopes {
            for s in scopes where service.scope(named: s) == nil {
                add("scope", "'\(s)' is not a scope of this service")
            }
        }
        let algFields: [(String, JWSAlgorithm?, [JWSAlgorithm])] = [
            ("request_object_signing_alg", c.requestObjectSigningAlg, service.algorithms.requestObject),
            ("id_token_signed_response_alg", c.idTokenSignedResponseAlg, service.algorithms.idToken),
            ("userinfo_signed_response_alg", c.userinfoSignedResponseAlg, service.algorithms.userinfo),
            ("authorization_signed_response_alg", c.authorizationSignedResponseAlg, service.algorithms.authorizationResponse),
            ("introspection_signed_response_alg", c.introspectionSignedResponseAlg, service.algorithms.introspection),
            ("token_endpoint_auth_signing_alg", c.tokenEndpointAuthSigningAlg, service.algorithms.clientAssertion),
        ]
        for (field, alg, offered) in algFields {
            guard let alg else { continue }
            if alg == .none { add(field, "'none' is never accepted (RFC 8725 §3.2)") }
            else if !offered.contains(alg) { add(field, "\(alg.rawValue) is not supported by this service") }
        }
        if let alg = c.tokenEndpointAuthSigningAlg {
            if c.tokenEndpointAuthMethod == .privateKeyJWT && alg.isSymmetric {
                add("token_endpoint_auth_signing_alg", "private_key_jwt needs an asymmetric algorithm, not \(alg.rawValue)")
            }
            if c.tokenEndpointAuthMethod == .clientSecretJWT && !alg.isSymmetric {
                add("token_endpoint_auth_signing_alg", "client_secret_jwt needs an HMAC algorithm, not \(alg.rawValue)")
            }
        }
        if c.tlsClientCertificateBoundAccessTokens && !service.tlsClientCertificateBoundAccessTokens {
            add("tls_client_certificate_bound_access_tokens", "certificate-bound access tokens are not enabled on this service (RFC 8705 §3.4)")
        }
        return out
    }
}

/// Configuration-time checks of the service settings (reference: service configuration tables).
public struct ServiceConformance: Sendable {
    public let service: ServiceSettings
    public init(service: ServiceSettings) { self.service = service }

    public func violations() -> [Violation] {
        var out: [Violation] = []
        let profiles = Set(service.scopes.compactMap(\.profile) + [service.forcedProfile].compactMap { $0 })
        func add(_ p: Profile, _ field: String, _ message: String) { out.append(Violation(profile: p, field: field, message: message)) }
        for p in profiles.sorted() {
            if !service.supportedProfiles.contains(p) {
                add(p, "supported_profiles", "a scope selects \(p.displayName) but the service does not list it in supported_profiles")
            }
            let set = RuleSet(profiles: [p], service: service)
            let context = ConformanceContext(profile: p, service: service, policy: set.requirements)
            out += set.rules.flatMap { $0.violations(of: service, context) }
        }
        for alg in [service.algorithms.idToken, service.algorithms.requestObject, service.algorithms.clientAssertion].flatMap({ $0 }) where alg == .none {
            add(.oauth, "algorithms", "'none' must never be offered (RFC 8725 §3.2)")
        }
        return out
    }
}
