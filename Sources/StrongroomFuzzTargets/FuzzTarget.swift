import Foundation
import StrongroomCore
import StrongroomEngine
import StrongroomJOSE

/// The coverage-guided fuzz targets (scripts/fuzz, docs/operations.md "Fuzzing"). Each takes one
/// input of arbitrary bytes, drives one parser or the whole request path with it, and names the
/// invariant it broke, if any; strongroom-fuzz then stops the process so that libFuzzer saves
/// the input. A crash, a hang or a leak is a finding too. Parse failures are not: refusing bad
/// input is the parsers' job.
///
/// The same functions replay the checked-in corpus in `swift test` (FuzzCorpusTests) and in
/// `strongroom-fuzz <target> <files>` built without libFuzzer.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// Raw HTTP/1.1 request bytes through NIO's HTTP/1 decoder, the responder and the engine
    /// over SQLite, on the TLS or (with `x-fuzz-client-cert`) the mutual-TLS listener.
    case request
    /// An `application/x-www-form-urlencoded` body (FormCoding).
    case form
    /// A compact JWS, parsed and verified against the demo keys.
    case jws
    /// JSON text (the JSONValue parser behind request objects, assertions, DPoP and DCR).
    case json
    /// A JWK Set document, as registration and `jwks_uri` fetches read it.
    case jwks
    /// Request-object claims, merged over a valid pushed request, signed with the demo client's
    /// key and pushed over mutual TLS.
    case requestObject = "request-object"
    /// An RFC 9440 `Client-Cert` header, then `Client-Cert-Chain` after the first line feed.
    case clientCert = "client-cert"
    /// A `tls_client_auth_subject_dn` text compared with a certificate's subject (RFC 4514 parsing).
    case dn

    /// Builds what the target keeps for the whole run (keys, the engine), before the first input:
    /// libFuzzer looks for leaks in any input that allocated more than it freed, and state made
    /// once, held in statics, would otherwise be blamed on the first input.
    public func prepare() {
        switch self {
        case .request, .requestObject: _ = RequestPathHarness.shared
        case .jws, .dn: _ = FuzzKeys.shared
        case .form, .json, .jwks, .clientCert: break
        }
    }

    /// Runs one input; returns the broken invariant, or nil.
    public func run(_ data: Data) -> String? {
        switch self {
        case .request: RequestPathHarness.shared.request(data)
        case .requestObject: RequestPathHarness.shared.requestObject(data)
        case .form: Self.form(data)
        case .jws: Self.jws(data)
        case .json: Self.json(data)
        case .jwks: Self.jwks(data)
        case .clientCert: Self.clientCert(data)
        case .dn: Self.dn(data)
        }
    }

    static func form(_ data: Data) -> String? {
        guard let params = FormCoding.decode(data) else { return nil }
        // What was decoded encodes back to the same parameters.
        let again = FormCoding.decode(FormCoding.encode(params))
        if again != params { return "form round trip changed \(params) into \(String(describing: again))" }
        return nil
    }

    static func json(_ data: Data) -> String? {
        guard let value = JSONValue.parse(data) else { return nil }
        // Serialising what was parsed and parsing it again gives the same value.
        let text = value.serialized()
        guard let again = JSONValue.parse(text) else { return "serialised JSON does not parse: \(String(decoding: text, as: UTF8.self))" }
        if again != value { return "JSON round trip changed \(value) into \(again)" }
        return nil
    }

    static func jws(_ data: Data) -> String? {
        guard let jws = try? UnverifiedJWS(compact: String(decoding: data, as: UTF8.self)) else { return nil }
        // Nobody but the key holders can sign: a fuzzed input that verifies is a forgery
        // (alg none, a public key taken as an HMAC secret, a check that accepts garbage).
        let keys = FuzzKeys.shared
        if let verified = try? JWSVerifier.verify(jws, keys: keys.publicSet, policy: keys.asymmetricPolicy) {
            return "a fuzzed JWS verified against the public keys: \(verified.header)"
        }
        if let verified = try? JWSVerifier.verifyHMAC(jws, secret: keys.hmacSecret, policy: keys.hmacPolicy) {
            return "a fuzzed JWS verified against the HMAC secret: \(verified.header)"
        }
        return nil
    }

    static func jwks(_ data: Data) -> String? {
        guard let value = JSONValue.parse(data), let set = try? JWKSet(json: value) else { return nil }
        for key in set.keys {
            _ = key.thumbprint()
        }
        // A set that parsed serialises and parses to the same number of keys.
        guard let again = try? JWKSet(json: set.json) else { return "a parsed JWK Set does not parse again: \(set.json)" }
        if again.keys.count != set.keys.count { return "JWK Set round trip lost keys: \(set.json)" }
        return nil
    }

    static func clientCert(_ data: Data) -> String? {
        let text = String(decoding: data, as: UTF8.self)
        let parts = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        let header = String(parts[0])
        let chain = parts.count > 1 ? String(parts[1]) : nil
        guard let certificate = try? ClientCertificate.fromRFC9440(header: header, chainHeader: chain) else { return nil }
        _ = certificate.subjectDN
        _ = certificate.thumbprintS256
        _ = certificate.sanDNS + certificate.sanURI + certificate.sanEmail + certificate.sanIP
        if !certificate.subjectMatches(certificate.subjectDN) { return "a certificate does not match its own subject \(certificate.subjectDN)" }
        return nil
    }

    static func dn(_ data: Data) -> String? {
        // The property is the parser's: any text is parsed or refused, without a trap or a hang.
        _ = FuzzKeys.shared.certificate.subjectMatches(String(decoding: data, as: UTF8.self))
        return nil
    }
}
