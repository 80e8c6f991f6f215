import Crypto
import Foundation
import StrongroomCore
import StrongroomJOSE
import SwiftASN1
import X509
import _CryptoExtras

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Test and demo PKI. Everything generated here is for demos and tests only: fresh keys, no
/// revocation, long validity. Never use these as production defaults.
public enum DemoPKI {
    public struct Issued: Sendable {
        public let certificatePEM: String
        /// PKCS#8 PEM.
        public let privateKeyPEM: String
        public let certificateDER: Data
    }

    static let organization = "Strongroom Demo"

    /// A P-256 CA valid for 10 years, basicConstraints CA (critical), keyCertSign + cRLSign.
    public static func makeCA(commonName: String) throws -> Issued {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            CountryName("GB")
            OrganizationName(organization)
            CommonName(commonName)
        }
        let publicKey = Certificate.PublicKey(key.publicKey)
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
            Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            SubjectKeyIdentifier(hash: publicKey)
        }
        return try make(
            publicKey: publicKey, subject: name, issuer: name, years: 10, extensions: extensions,
            issuerKey: Certificate.PrivateKey(key), subjectKeyPEM: key.pemRepresentation)
    }

    /// A TLS server certificate with serverAuth EKU and the hosts as DNS or IP SANs. RSA-2048 by
    /// default: the TLS 1.2 cipher suites FAPI 1.0 Part 2 §8.5 permits (ECDHE_RSA with AES-GCM)
    /// need an RSA server key; `.es256` gives a P-256 key.
    public static func issueServerCertificate(ca: Issued, hosts: [String], keyAlgorithm: JWSAlgorithm = .ps256) throws -> Issued {
        let (caCert, caKey) = try loadCA(ca)
        let (publicKey, keyPEM) = try newKey(keyAlgorithm)
        let subject = try DistinguishedName {
            OrganizationName(organization)
            CommonName(hosts.first ?? "localhost")
        }
        let names: [GeneralName] = try hosts.map { host in
            if let ip = parseIP(host) { return .ipAddress(ASN1OctetString(contentBytes: ip[...])) }
            guard !host.isEmpty else { throw JOSEError.malformed("empty host name") }
            return .dnsName(host)
        }
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true))
            try ExtendedKeyUsage([.serverAuth])
            SubjectAlternativeNames(names)
            SubjectKeyIdentifier(hash: publicKey)
            try authorityKeyIdentifier(caCert)
        }
        return try make(
            publicKey: publicKey, subject: subject, issuer: caCert.subject, years: 2, extensions: extensions,
            issuerKey: caKey, subjectKeyPEM: keyPEM)
    }

    /// A TLS client certificate (clientAuth EKU) with subject `CN=…,O=…,C=GB`.
    /// `.ps256`/RS*/PS* → RSA-2048 key; `.es256` → P-256.
    public static func issueClientCertificate(
        ca: Issued, commonName: String, organization: String, keyAlgorithm: JWSAlgorithm
    ) throws -> Issued {
        let (caCert, caKey) = try loadCA(ca)
        let (publicKey, pem) = try newKey(keyAlgorithm)
        let subject = try clientSubject(commonName: commonName, organization: organization)
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true))
            try ExtendedKeyUsage([.clientAuth])
            SubjectKeyIdentifier(hash: publicKey)
            try authorityKeyIdentifier(caCert)
        }
        return try make(
            publicKey: publicKey, subject: subject, issuer: caCert.subject, years: 2, extensions: extensions,
            issuerKey: caKey, subjectKeyPEM: pem)
    }

    /// A self-signed client certificate (for `self_signed_tls_client_auth`).
    public static func selfSignedClientCertificate(commonName: String, keyAlgorithm: JWSAlgorithm) throws -> Issued {
        let (publicKey, pem) = try newKey(keyAlgorithm)
        let subject = try clientSubject(commonName: commonName, organization: organization)
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true))
            try ExtendedKeyUsage([.clientAuth])
        }
        return try make(
            publicKey: publicKey, subject: subject, issuer: subject, years: 2, extensions: extensions,
            issuerKey: try privateKey(pem: pem), subjectKeyPEM: pem)
    }

    /// The public JWK (kid = RFC 7638 thumbprint, use sig, alg) and the private JWK for a PEM private key.
    public static func jwkPair(privateKeyPEM: String, algorithm: JWSAlgorithm) throws -> (publicJWK: JWK, privateJWK: JWK) {
        let key = try ServerSigningKey(privateKeyPEM: privateKeyPEM, algorithm: algorithm)
        return (key.publicJWK, key.privateJWK)
    }

    // MARK: - Helpers

    /// `C=GB, O=organization, CN=commonName`, the subject of every demo client certificate.
    static func clientSubject(commonName: String, organization: String) throws -> DistinguishedName {
        try DistinguishedName {
            CountryName("GB")
            OrganizationName(organization)
            CommonName(commonName)
        }
    }

    static func newKey(_ algorithm: JWSAlgorithm) throws -> (Certificate.PublicKey, String) {
        switch algorithm {
        case .ps256, .ps384, .ps512, .rs256, .rs384, .rs512:
            let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
            return (Certificate.PublicKey(key.publicKey), key.pkcs8PEMRepresentation)
        case .es256:
            let key = P256.Signing.PrivateKey()
            return (Certificate.PublicKey(key.publicKey), key.pemRepresentation)
        default:
            throw JOSEError.algorithmNotAllowed("demo certificates use PS256/RS256 (RSA) or ES256 keys, not \(algorithm.rawValue)")
        }
    }

    static func privateKey(pem: String) throws -> Certificate.PrivateKey {
        if let ec = try? P256.Signing.PrivateKey(pemRepresentation: pem) { return Certificate.PrivateKey(ec) }
        return Certificate.PrivateKey(try _RSA.Signing.PrivateKey(pemRepresentation: pem))
    }

    static func loadCA(_ ca: Issued) throws -> (Certificate, Certificate.PrivateKey) {
        (try Certificate(derEncoded: Array(ca.certificateDER)), try privateKey(pem: ca.privateKeyPEM))
    }

    static func authorityKeyIdentifier(_ ca: Certificate) throws -> AuthorityKeyIdentifier {
        let ski = try ca.extensions.subjectKeyIdentifier?.keyIdentifier
            ?? SubjectKeyIdentifier(hash: ca.publicKey).keyIdentifier
        return AuthorityKeyIdentifier(keyIdentifier: ski)
    }

    static func make(
        publicKey: Certificate.PublicKey, subject: DistinguishedName, issuer: DistinguishedName, years: Int,
        extensions: Certificate.Extensions, issuerKey: Certificate.PrivateKey, subjectKeyPEM: String
    ) throws -> Issued {
        let now = Date()
        let signatureAlgorithm: Certificate.SignatureAlgorithm =
            _RSA.Signing.PublicKey(issuerKey.publicKey) != nil ? .sha256WithRSAEncryption : .ecdsaWithSHA256
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(Double(years) * 365 * 86400),
            issuer: issuer,
            subject: subject,
            signatureAlgorithm: signatureAlgorithm,
            extensions: extensions,
            issuerPrivateKey: issuerKey)
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return Issued(
            certificatePEM: try certificate.serializeAsPEM().pemString,
            privateKeyPEM: subjectKeyPEM,
            certificateDER: Data(serializer.serializedBytes))
    }

    /// IPv4 or IPv6 text to bytes; nil if not an IP address.
    static func parseIP(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}
