import Crypto
import Foundation
import StrongroomCore

/// A DPoP proof (RFC 9449) that passed every check that needs no state: the caller still checks
/// `jti` against its replay store and, when it asks for them, the server nonce.
public struct DPoPProof: Sendable, Equatable {
    /// The proof's public key and its RFC 7638 thumbprint (`jkt`), which a bound token carries.
    public let key: JWK
    public let thumbprint: String
    public let jti: String
    public let issuedAt: Date
    public let nonce: String?
    public let algorithm: JWSAlgorithm
}

/// The stateless checks of RFC 9449 §4.3 on a `DPoP` header, each failure named.
public enum DPoPProofVerifier {
    /// Largest proof accepted (a proof is a few hundred bytes; an RSA key makes it about 1.5 KB).
    public static let maximumSize = 8 * 1024

    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case malformed(String)
        case wrongType
        case algorithmNotAllowed(String)
        case badKey(String)
        case badSignature
        case missingClaim(String)
        case methodMismatch
        case urlMismatch
        case staleOrFuture
        case accessTokenHashMismatch

        public var description: String {
            switch self {
            case .malformed(let why): "the DPoP proof is malformed: \(why)"
            case .wrongType: "the DPoP proof's typ must be dpop+jwt"
            case .algorithmNotAllowed(let alg): "the DPoP proof's alg \(alg) is not allowed"
            case .badKey(let why): "the DPoP proof's jwk is not acceptable: \(why)"
            case .badSignature: "the DPoP proof's signature does not verify with its jwk"
            case .missingClaim(let name): "the DPoP proof has no \(name) claim"
            case .methodMismatch: "the DPoP proof's htm does not match the request method"
            case .urlMismatch: "the DPoP proof's htu does not match the request URL"
            case .staleOrFuture: "the DPoP proof's iat is outside the accepted window"
            case .accessTokenHashMismatch: "the DPoP proof's ath does not match the access token"
            }
        }
    }

    /// Verifies `compact` for a request with `method` to `url` (the public URL the client used;
    /// behind a proxy the configured external base, never the socket), at `now`.
    ///
    /// - `allowed`: the asymmetric algorithms accepted (never `none` or an HMAC).
    /// - `maxAge`, `skew`: `iat` no older than `maxAge + skew` and no later than `now + skew`.
    /// - `accessToken`: at a protected resource, the token the proof must be tied to (`ath`).
    public static func verify(_ compact: String, method: String, url: String, accessToken: String?, allowed: [JWSAlgorithm],
                              now: Date, maxAge: TimeInterval, skew: TimeInterval) throws(Failure) -> DPoPProof {
        guard compact.utf8.count <= maximumSize else { throw .malformed("too large") }
        let jws: UnverifiedJWS
        do { jws = try UnverifiedJWS(compact: compact) } catch { throw .malformed("\(error)") }
        guard jws.typ?.lowercased() == "dpop+jwt" else { throw .wrongType }
        guard let alg = JWSAlgorithm(rawValue: jws.algorithm), alg != .none, !alg.isSymmetric, allowed.contains(alg) else {
            throw .algorithmNotAllowed(ErrorText.quoted(jws.algorithm))
        }
        guard let jwkValue = jws.header["jwk"] else { throw .badKey("no jwk header") }
        let key: JWK
        do { key = try JWK(json: jwkValue) } catch { throw .badKey("\(error)") }
        // RFC 9449 §4.3-8: a public key only; a private key in the header is refused outright.
        guard !key.isPrivate else { throw .badKey("it contains private key material") }
        do {
            _ = try JWSVerifier.verify(jws, keys: JWKSet(keys: [key]), policy: VerificationPolicy(allowedAlgorithms: [alg]))
        } catch .badSignature {
            throw .badSignature
        } catch {
            throw .badKey("\(error)")
        }
        let p = jws.payload
        guard let jti = p["jti"]?.stringValue, !jti.isEmpty else { throw .missingClaim("jti") }
        guard jti.utf8.count <= 256 else { throw .malformed("jti is longer than 256 bytes") }
        guard let htm = p["htm"]?.stringValue else { throw .missingClaim("htm") }
        guard htm == method.uppercased() else { throw .methodMismatch }
        guard let htu = p["htu"]?.stringValue else { throw .missingClaim("htu") }
        guard let expected = normalisedURL(url), let presented = normalisedURL(htu), expected == presented else { throw .urlMismatch }
        guard let iatNumber = p["iat"]?.doubleValue, iatNumber.isFinite else { throw .missingClaim("iat") }
        let iat = Date(timeIntervalSince1970: iatNumber)
        guard iat <= now.addingTimeInterval(skew), iat >= now.addingTimeInterval(-(maxAge + skew)) else { throw .staleOrFuture }
        if let accessToken {
            guard let ath = p["ath"]?.stringValue else { throw .missingClaim("ath") }
            let expectedHash = Base64URL.encode(Array(SHA256.hash(data: Data(accessToken.utf8))))
            guard constantTimeEquals(ath, expectedHash) else { throw .accessTokenHashMismatch }
        }
        return DPoPProof(key: key, thumbprint: key.thumbprint(), jti: jti, issuedAt: iat, nonce: p["nonce"]?.stringValue, algorithm: alg)
    }

    /// `htu` as RFC 9449 §4.3-9 compares it: without query and fragment, after RFC 3986 §6.2.2
    /// syntax-based and §6.2.3 scheme-based normalisation (case of scheme and host, default port,
    /// percent-encoding case, dot segments, empty path). Nil for anything that is not an absolute
    /// http(s) URL.
    public static func normalisedURL(_ s: String) -> String? {
        guard var c = URLComponents(string: s), let scheme = c.scheme?.lowercased(), scheme == "https" || scheme == "http",
              let host = c.host?.lowercased(), !host.isEmpty, c.user == nil, c.password == nil else { return nil }
        c.query = nil
        c.fragment = nil
        let port = c.port.flatMap { (scheme == "https" && $0 == 443) || (scheme == "http" && $0 == 80) ? nil : $0 }
        var segments: [Substring] = []
        for segment in c.percentEncodedPath.split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
            switch segment {
            case ".": continue
            case "..": if !segments.isEmpty { segments.removeLast() }
            default: segments.append(segment)
            }
        }
        var path = "/" + segments.joined(separator: "/")
        path = uppercasePercentEscapes(path)
        return scheme + "://" + host + (port.map { ":\($0)" } ?? "") + path
    }

    static func uppercasePercentEscapes(_ s: String) -> String {
        guard s.contains("%") else { return s }
        var out = ""
        var pending = 0
        for ch in s {
            if ch == "%" { pending = 2; out.append(ch); continue }
            if pending > 0 { out.append(contentsOf: ch.uppercased()); pending -= 1; continue }
            out.append(ch)
        }
        return out
    }
}
