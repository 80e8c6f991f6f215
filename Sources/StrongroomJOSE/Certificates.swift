import Crypto
import Foundation
import StrongroomCore
import SwiftASN1
@_spi(FixedExpiryValidationTime) import X509
import _CryptoExtras

public enum Thumbprints {
    /// `x5t#S256` (RFC 7515 §4.1.8, RFC 8705 §3.1): base64url SHA-256 of the DER certificate.
    public static func certificateSHA256(der: Data) -> String {
        Base64URL.encode(SHA256.hash(data: der))
    }
}

/// A client TLS certificate as presented (leaf first), parsed with swift-certificates.
public struct ClientCertificate: Sendable, Equatable {
    /// Upper bounds for untrusted input (one certificate, and a chain).
    public static let maximumCertificateSize = 32 * 1024
    public static let maximumChainLength = 8

    public let chainDER: [Data]
    public let leaf: Certificate
    let intermediates: [Certificate]

    public init(chainDER: [Data]) throws(JOSEError) {
        guard let first = chainDER.first else { throw .malformed("empty certificate chain") }
        guard chainDER.count <= ClientCertificate.maximumChainLength else { throw .malformed("certificate chain too long") }
        var parsed: [Certificate] = []
        for der in chainDER {
            guard der.count <= ClientCertificate.maximumCertificateSize else { throw .malformed("certificate too large") }
            do { parsed.append(try Certificate(derEncoded: Array(der))) } catch {
                throw .malformed(der == first ? "client certificate is not valid DER X.509" : "chain certificate is not valid DER X.509")
            }
        }
        self.chainDER = chainDER
        self.leaf = parsed[0]
        self.intermediates = Array(parsed.dropFirst())
    }

    /// One or more PEM `CERTIFICATE` blocks, leaf first.
    public static func fromPEM(_ pem: String) throws(JOSEError) -> ClientCertificate {
        try ClientCertificate(chainDER: certificateDERs(pem: pem))
    }

    /// RFC 9440 `Client-Cert` (an sf-binary `:base64:`) and optional `Client-Cert-Chain`
    /// (a comma-separated list of sf-binary items, issuer certificates only).
    public static func fromRFC9440(header: String, chainHeader: String?) throws(JOSEError) -> ClientCertificate {
        var ders = [try sfBinary(header)]
        if let chainHeader, !chainHeader.trimmingCharacters(in: .whitespaces).isEmpty {
            for item in chainHeader.split(separator: ",", omittingEmptySubsequences: false) {
                ders.append(try sfBinary(String(item)))
                guard ders.count <= maximumChainLength else { throw .malformed("Client-Cert-Chain too long") }
            }
        }
        return try ClientCertificate(chainDER: ders)
    }

    static func sfBinary(_ item: String) throws(JOSEError) -> Data {
        let trimmed = item.trimmingCharacters(in: .whitespaces)
        guard trimmed.utf8.count <= maximumCertificateSize * 2 else { throw .malformed("Client-Cert header too large") }
        guard trimmed.count >= 2, trimmed.hasPrefix(":"), trimmed.hasSuffix(":") else {
            throw .malformed("Client-Cert is not a structured-field byte sequence")
        }
        let body = trimmed.dropFirst().dropLast()
        guard body.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "+" || $0 == "/" || $0 == "=") }),
            let data = Data(base64Encoded: String(body)), !data.isEmpty
        else { throw .malformed("Client-Cert is not base64") }
        return data
    }

    /// `x5t#S256` of the leaf.
    public var thumbprintS256: String { Thumbprints.certificateSHA256(der: chainDER[0]) }

    /// RFC 4514 form, most specific RDN first, e.g. `CN=client1,O=Strongroom Demo,C=GB`; a value
    /// that is not a string is `#` and the hex of its DER (RFC 4514 §2.4), so that the text
    /// always matches the certificate it came from (`subjectMatches`).
    public var subjectDN: String { DNText.format(leaf.subject) }

    private var generalNames: [GeneralName] {
        guard let sans = try? leaf.extensions.subjectAlternativeNames else { return [] }
        return Array(sans)
    }

    public var sanDNS: [String] {
        generalNames.compactMap { if case .dnsName(let n) = $0 { n } else { nil } }
    }
    public var sanURI: [String] {
        generalNames.compactMap { if case .uniformResourceIdentifier(let n) = $0 { n } else { nil } }
    }
    public var sanEmail: [String] {
        generalNames.compactMap { if case .rfc822Name(let n) = $0 { n } else { nil } }
    }
    /// IP addresses in text form (dotted IPv4; IPv6 in RFC 5952 compressed form).
    public var sanIP: [String] {
        generalNames.compactMap { if case .ipAddress(let o) = $0 { IPText.format(Array(o.bytes)) } else { nil } }
    }

    public var notBefore: Date { leaf.notValidBefore }
    public var notAfter: Date { leaf.notValidAfter }

    /// Subject DN equality for `tls_client_auth_subject_dn` (RFC 8705 §2.1.2), approximating
    /// RFC 4517 distinguishedNameMatch: same RDNs in the same order, attribute types compared
    /// case-insensitively (short names or dotted OIDs), values case-insensitively after trimming
    /// and folding internal whitespace. Spaces around `,` `+` `=` in `dn` are ignored.
    public func subjectMatches(_ dn: String) -> Bool {
        guard let expected = DNText.parse(dn) else { return false }
        return DNText.normalized(leaf.subject) == expected
    }

    /// For `self_signed_tls_client_auth` (RFC 8705 §2.2): the leaf's public key equals a key in the set.
    public func publicKeyMatches(_ keys: JWKSet) -> Bool {
        guard let material = KeyMaterial(leaf.publicKey) else { return false }
        return keys.keys.contains { KeyMaterial($0) == material }
    }
}

/// Comparable public key material, from a certificate or a JWK.
enum KeyMaterial: Equatable {
    case rsa(n: Data, e: Data)
    case ec(crv: String, x: Data, y: Data)
    case okp(crv: String, x: Data)

    init?(_ key: Certificate.PublicKey) {
        if let rsa = _RSA.Signing.PublicKey(key), let p = try? rsa.getKeyPrimitives() {
            self = .rsa(n: Data(p.modulus.drop(while: { $0 == 0 })), e: Data(p.publicExponent.drop(while: { $0 == 0 })))
        } else if let k = P256.Signing.PublicKey(key) {
            self = .ec(crv: "P-256", x: k.rawRepresentation.prefix(32), y: k.rawRepresentation.suffix(32))
        } else if let k = P384.Signing.PublicKey(key) {
            self = .ec(crv: "P-384", x: k.rawRepresentation.prefix(48), y: k.rawRepresentation.suffix(48))
        } else if let k = P521.Signing.PublicKey(key) {
            self = .ec(crv: "P-521", x: k.rawRepresentation.prefix(66), y: k.rawRepresentation.suffix(66))
        } else if let k = Curve25519.Signing.PublicKey(key) {
            self = .okp(crv: "Ed25519", x: k.rawRepresentation)
        } else {
            return nil
        }
    }

    init?(_ jwk: JWK) {
        switch jwk.kty {
        case "RSA":
            guard let n = jwk.member("n"), let e = jwk.member("e") else { return nil }
            self = .rsa(n: Data(n.drop(while: { $0 == 0 })), e: Data(e.drop(while: { $0 == 0 })))
        case "EC":
            guard let crv = jwk.curve, let x = jwk.member("x"), let y = jwk.member("y") else { return nil }
            self = .ec(crv: crv, x: x, y: y)
        case "OKP":
            guard let crv = jwk.curve, let x = jwk.member("x") else { return nil }
            self = .okp(crv: crv, x: x)
        default: return nil
        }
    }

    static func == (a: KeyMaterial, b: KeyMaterial) -> Bool {
        switch (a, b) {
        case let (.rsa(n1, e1), .rsa(n2, e2)): return n1.elementsEqual(n2) && e1.elementsEqual(e2)
        case let (.ec(c1, x1, y1), .ec(c2, x2, y2)): return c1 == c2 && x1.elementsEqual(x2) && y1.elementsEqual(y2)
        case let (.okp(c1, x1), .okp(c2, x2)): return c1 == c2 && x1.elementsEqual(x2)
        default: return false
        }
    }
}

/// CAs trusted to issue `tls_client_auth` certificates.
public struct CertificateTrustAnchors: Sendable {
    public let roots: [Certificate]

    public init(pemFiles: [String]) throws {
        try self.init(pemStrings: pemFiles.map { try String(contentsOfFile: $0, encoding: .utf8) })
    }

    public init(pemStrings: [String]) throws {
        var roots: [Certificate] = []
        for pem in pemStrings {
            for der in try certificateDERs(pem: pem) {
                roots.append(try Certificate(derEncoded: Array(der)))
            }
        }
        self.roots = roots
    }

    public init(certificates: [Certificate]) { self.roots = certificates }

    public var isEmpty: Bool { roots.isEmpty }

    /// Builds a chain from the leaf (with the presented intermediates) to a configured root under
    /// RFC 5280 rules (signatures, validity at `at`, basic and name constraints) and requires the
    /// leaf, if it has extendedKeyUsage, to allow clientAuth.
    public func validate(_ cert: ClientCertificate, at: Date) async -> Bool {
        guard !roots.isEmpty else { return false }
        var verifier = Verifier(rootCertificates: CertificateStore(roots)) {
            RFC5280Policy(fixedExpiryValidationTime: at)
            ClientAuthUsagePolicy()
        }
        let result = await verifier.validate(leaf: cert.leaf, intermediates: CertificateStore(cert.intermediates))
        if case .validCertificate = result { return true }
        return false
    }
}

/// The leaf must not restrict its use to something other than TLS client authentication (RFC 5280 §4.2.1.12).
struct ClientAuthUsagePolicy: VerifierPolicy {
    let verifyingCriticalExtensions: [ASN1ObjectIdentifier] = [.X509ExtensionID.extendedKeyUsage]

    func chainMeetsPolicyRequirements(chain: UnverifiedCertificateChain) async -> PolicyEvaluationResult {
        guard let eku = try? chain.leaf.extensions.extendedKeyUsage else {
            // Absent means any use; present but unparseable is refused.
            return chain.leaf.extensions[oid: .X509ExtensionID.extendedKeyUsage] == nil
                ? .meetsPolicy : .failsToMeetPolicy(reason: "leaf extendedKeyUsage is malformed")
        }
        return eku.contains(.clientAuth) || eku.contains(.any)
            ? .meetsPolicy : .failsToMeetPolicy(reason: "leaf extendedKeyUsage does not allow clientAuth")
    }
}

/// DER bodies of the `CERTIFICATE` blocks in a PEM string.
func certificateDERs(pem: String) throws(JOSEError) -> [Data] {
    let documents: [PEMDocument]
    do { documents = try PEMDocument.parseMultiple(pemString: pem) } catch {
        throw .malformed("not PEM")
    }
    let ders = documents.filter { $0.discriminator == "CERTIFICATE" }.map { Data($0.derBytes) }
    guard !ders.isEmpty else { throw .malformed("no CERTIFICATE in PEM") }
    return ders
}

enum IPText {
    static func format(_ bytes: [UInt8]) -> String? {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        guard bytes.count == 16 else { return nil }
        let groups = stride(from: 0, to: 16, by: 2).map { Int(bytes[$0]) << 8 | Int(bytes[$0 + 1]) }
        // RFC 5952 §4.2: compress the longest run (length ≥ 2) of zero groups, first one on ties.
        var best = (start: -1, length: 0)
        var i = 0
        while i < 8 {
            if groups[i] == 0 {
                var j = i
                while j < 8, groups[j] == 0 { j += 1 }
                if j - i > best.length { best = (i, j - i) }
                i = j
            } else { i += 1 }
        }
        let hex = groups.map { String($0, radix: 16) }
        guard best.length >= 2 else { return hex.joined(separator: ":") }
        let head = hex[..<best.start].joined(separator: ":")
        let tail = hex[(best.start + best.length)...].joined(separator: ":")
        return head + "::" + tail
    }
}

/// Distinguished names as comparable lists of RDNs (most specific first), each a sorted list of
/// (TYPE, normalized value) pairs.
enum DNText {
    typealias RDN = [Pair]
    struct Pair: Equatable, Comparable {
        var type: String
        var value: String
        /// `value` is the hex of a DER value that is not a string, not text: a text that happens
        /// to read `#…` never equals it.
        var der = false
        static func < (a: Pair, b: Pair) -> Bool { (a.type, a.value, a.der ? 1 : 0) < (b.type, b.value, b.der ? 1 : 0) }
    }

    static let names: [String: String] = [
        "2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O", "2.5.4.11": "OU",
        "2.5.4.9": "STREET", "0.9.2342.19200300.100.1.25": "DC", "0.9.2342.19200300.100.1.1": "UID",
        "1.2.840.113549.1.9.1": "EMAILADDRESS", "2.5.4.5": "SERIALNUMBER",
    ]
    static let aliases: [String: String] = ["E": "EMAILADDRESS", "S": "ST", "COMMONNAME": "CN", "COUNTRYNAME": "C"]

    static func normalizeType(_ type: String) -> String {
        var t = type.trimmingCharacters(in: .whitespaces)
        if t.lowercased().hasPrefix("oid.") { t = String(t.dropFirst(4)) }
        if let name = names[t] { return name }
        let upper = t.uppercased()
        return aliases[upper] ?? upper
    }

    static func normalizeValue(_ value: String) -> String {
        value.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ").lowercased()
    }

    static func normalized(_ dn: DistinguishedName) -> [RDN] {
        dn.reversed().map { rdn in
            rdn.map { attribute in
                let type = normalizeType(String(describing: attribute.type).replacingOccurrences(of: " ", with: ""))
                guard let value = String(attribute.value) else { return Pair(type: type, value: hex(attribute.value), der: true) }
                return Pair(type: type, value: normalizeValue(value))
            }.sorted()
        }
    }

    /// RFC 4514 text: swift-certificates' escaping for string values; `TYPE=#hex` of the DER for
    /// the rest, where the library would print its own debugging form.
    static func format(_ dn: DistinguishedName) -> String {
        dn.reversed().map { rdn in
            rdn.map { attribute in
                if String(attribute.value) != nil { return String(describing: attribute) }
                let oid = String(describing: attribute.type)
                return (names[oid] ?? oid) + "=#" + hex(attribute.value)
            }.joined(separator: "+")
        }.joined(separator: ",")
    }

    static func hex(_ value: RelativeDistinguishedName.Attribute.Value) -> String {
        var serializer = DER.Serializer()
        guard (try? serializer.serialize(ASN1Any(value))) != nil else { return "" }
        return serializer.serializedBytes.map { String(format: "%02x", $0) }.joined()
    }

    /// A `#hex` value (RFC 4514 §2.4, §3): the DER of an attribute value. A string in it compares
    /// as that string; anything else as its DER (lowercase hex). Nil when the hex is malformed.
    static func hexFormValue(_ hexText: Substring) -> (value: String, der: Bool)? {
        let digits = Array(hexText.utf8)
        guard !digits.isEmpty, digits.count.isMultiple(of: 2), digits.count <= 2048 else { return nil }
        var der: [UInt8] = []
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let h = hexValue(digits[i]), let l = hexValue(digits[i + 1]) else { return nil }
            der.append(h << 4 | l)
        }
        if let s = try? ASN1UTF8String(derEncoded: der) { return (normalizeValue(String(s)), false) }
        if let s = try? ASN1PrintableString(derEncoded: der) { return (normalizeValue(String(s)), false) }
        if let s = try? ASN1IA5String(derEncoded: der) { return (normalizeValue(String(s)), false) }
        guard (try? DER.parse(der)) != nil else { return nil }
        return (String(decoding: digits, as: UTF8.self).lowercased(), true)
    }

    /// Parses an RFC 4514 string (`,` or `;` between RDNs, `+` inside, backslash escapes incl. `\XX`).
    static func parse(_ text: String) -> [RDN]? {
        guard text.utf8.count <= 4096 else { return nil }
        var rdns: [RDN] = []
        var current: RDN = []
        var type = ""
        var value: [UInt8] = []
        var inValue = false
        // The value began with an unescaped `#`: hex of its DER follows.
        var hexForm = false
        var bytes = Array(text.utf8)[...]
        func finishAttribute() -> Bool {
            let t = type.trimmingCharacters(in: .whitespaces)
            guard inValue, !t.isEmpty else { return false }
            let text = String(decoding: value, as: UTF8.self)
            if hexForm {
                guard let v = hexFormValue(Substring(text.trimmingCharacters(in: .whitespaces).dropFirst())) else { return false }
                current.append(Pair(type: normalizeType(t), value: v.value, der: v.der))
            } else {
                current.append(Pair(type: normalizeType(t), value: normalizeValue(text)))
            }
            type = ""; value = []; inValue = false; hexForm = false
            return true
        }
        while let b = bytes.popFirst() {
            if !inValue {
                if b == UInt8(ascii: "=") { inValue = true } else { type.append(Character(UnicodeScalar(b))) }
                continue
            }
            switch b {
            case UInt8(ascii: "\\"):
                guard let next = bytes.popFirst() else { return nil }
                if let h1 = hexValue(next), let peek = bytes.first, let h2 = hexValue(peek) {
                    bytes.removeFirst()
                    value.append(h1 << 4 | h2)
                } else {
                    value.append(next)
                }
            case UInt8(ascii: "+"):
                guard finishAttribute() else { return nil }
            case UInt8(ascii: ","), UInt8(ascii: ";"):
                guard finishAttribute() else { return nil }
                rdns.append(current.sorted()); current = []
            default:
                if b == UInt8(ascii: "#"), value.allSatisfy({ $0 == UInt8(ascii: " ") }) { hexForm = true }
                value.append(b)
            }
        }
        guard finishAttribute() else { return nil }
        rdns.append(current.sorted())
        return rdns
    }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
