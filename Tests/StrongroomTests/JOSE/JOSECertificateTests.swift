import Foundation
import StrongroomCore
import StrongroomDemo
import Testing
import X509

@testable import StrongroomJOSE

@Suite struct JOSECertificateTests {
    static let ca = try! DemoPKI.makeCA(commonName: "Strongroom Test CA")
    static let client = try! DemoPKI.issueClientCertificate(
        ca: ca, commonName: "client1", organization: "Strongroom Demo", keyAlgorithm: .es256)

    @Test func clientCertificateParsesSubjectAndThumbprint() throws {
        let cert = try ClientCertificate.fromPEM(Self.client.certificatePEM)
        #expect(cert.subjectDN == "CN=client1,O=Strongroom Demo,C=GB")
        #expect(cert.thumbprintS256 == Thumbprints.certificateSHA256(der: Self.client.certificateDER))
        #expect(cert.thumbprintS256.count == 43)
        #expect(cert.chainDER == [Self.client.certificateDER])
        #expect(cert.notBefore < Date() && cert.notAfter > Date())
        #expect(cert == (try ClientCertificate(chainDER: [Self.client.certificateDER])))
    }

    @Test func subjectMatchesToleratesSpacingAndCase() throws {
        let cert = try ClientCertificate(chainDER: [Self.client.certificateDER])
        #expect(cert.subjectMatches("CN=client1,O=Strongroom Demo,C=GB"))
        #expect(cert.subjectMatches("cn=Client1, o=strongroom  demo, c=gb"))
        #expect(cert.subjectMatches("2.5.4.3=client1,O=Strongroom Demo,C=GB"))
        #expect(!cert.subjectMatches("CN=client2,O=Strongroom Demo,C=GB"))
        #expect(!cert.subjectMatches("C=GB,O=Strongroom Demo,CN=client1"))  // order matters
        #expect(!cert.subjectMatches("CN=client1,O=Strongroom Demo"))
        #expect(!cert.subjectMatches("CN=client1,O=Strongroom Demo,C=GB,OU=x"))
        #expect(!cert.subjectMatches("garbage"))
        #expect(!cert.subjectMatches(""))
    }

    /// Found by the `client-cert` fuzz target: a subject whose O value is not a string (a
    /// context-specific tag). It prints as RFC 4514's `#hex` of the DER (it printed as the
    /// library's `ASN1Any([...])` debugging text, which did not match the certificate itself).
    static let nonStringSubject = ":MIIBlzCCAT2gAwIBAgIBBzAKBggqhkjOPQQDAjAwMRQwEgYDVQQDDAtmdXp6LWNsaWVudDEYMBYGA1UECgwPU3Ryb25ncm9vbSBGdXp6MB4XDTI2MTIwMTE1MTc1MloXDTM2MTEyODE1MTc1MlowMDEUMBIGA0UEAwwLZnV6ei1jbGllbnQxGDAWBgNVBAOMD1N0cm9uZ3Jvb20gRnV6ejBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABBKcjsyU5Z44SVJhUuqs2MBGt0ZSIKjGWkOIwPY7fNUNK/w5kwY0m63xl/uA2OgHZNV/ooSPeM+5zvOskXnvMqijSDBGMEQGA1UdEQQ9MDuCDmNsaWVudC5leGFtcGxlhhdodHRwczovL2NsaWVudGleC5FtcGxlL4EQYUBjbGllbnQuZXhhbXBsZTAKBggqhkjOPQQDAgNIADBFAiEAvhldIz4n45UxG5iboFkoK6N+69si7OOTFhl5ERsCnSsCIAeDkJhvuBujxp2lApeG5IsLe3lmihfeGl3Kn/Da9EZ6:"

    @Test func aNonStringSubjectValueIsHexAndMatchesItself() throws {
        let cert = try ClientCertificate.fromRFC9440(header: Self.nonStringSubject, chainHeader: nil)
        #expect(cert.subjectDN.hasPrefix("CN=#8c0f"), "\(cert.subjectDN)")
        #expect(!cert.subjectDN.contains("ASN1Any"))
        #expect(cert.subjectMatches(cert.subjectDN))
        #expect(cert.subjectMatches(cert.subjectDN.uppercased().replacingOccurrences(of: "CN=#", with: "cn=#")))
        // The library's debugging form is not a way to name the value.
        #expect(!cert.subjectMatches("CN=ASN1Any([140, 15]),1.29.4.3=fuzz-client"))
        // Nor is the hex as escaped text: `\#` is the character, so that names a string.
        #expect(!cert.subjectMatches(cert.subjectDN.replacingOccurrences(of: "CN=#", with: "CN=\\#")))
    }

    @Test func aTextThatReadsLikeHexIsNotTheDERItSpells() throws {
        // CN is the text "#a0030c0161"; as a #hex value those bytes are DER ([0] { UTF8String "a" }).
        let issued = try DemoPKI.issueClientCertificate(ca: Self.ca, commonName: "#a0030c0161", organization: "Strongroom Demo", keyAlgorithm: .es256)
        let cert = try ClientCertificate.fromPEM(issued.certificatePEM)
        #expect(!cert.subjectMatches("CN=#a0030c0161,O=Strongroom Demo,C=GB"))
        #expect(cert.subjectMatches("CN=\\#a0030c0161,O=Strongroom Demo,C=GB"))
        #expect(cert.subjectMatches(cert.subjectDN))
    }

    @Test func aHexValueMatchesTheStringItEncodes() throws {
        let cert = try ClientCertificate(chainDER: [Self.client.certificateDER])
        // 0c 07 "client1": a UTF8String; 13 0f "Strongroom Demo": a PrintableString.
        #expect(cert.subjectMatches("CN=#0c07636c69656e7431,O=Strongroom Demo,C=GB"))
        #expect(cert.subjectMatches("CN=client1,O=#130f5374726f6e67726f6f6d2044656d6f,C=GB"))
        #expect(!cert.subjectMatches("CN=#0c07636c69656e7432,O=Strongroom Demo,C=GB"))   // client2
        #expect(!cert.subjectMatches("CN=#0c07636c69656e743,O=Strongroom Demo,C=GB"))    // odd length
        #expect(!cert.subjectMatches("CN=#zz,O=Strongroom Demo,C=GB"))                   // not hex
        #expect(!cert.subjectMatches("CN=#0c09636c69656e7431,O=Strongroom Demo,C=GB"))   // bad DER length
        // An escaped `#` is the character itself.
        #expect(!cert.subjectMatches("CN=\\#0c07636c69656e7431,O=Strongroom Demo,C=GB"))
    }

    @Test func escapedDNValues() throws {
        let ca = try DemoPKI.makeCA(commonName: "CA")
        let issued = try DemoPKI.issueClientCertificate(ca: ca, commonName: "Doe, John", organization: "A+B", keyAlgorithm: .es256)
        let cert = try ClientCertificate.fromPEM(issued.certificatePEM)
        #expect(cert.subjectDN == #"CN=Doe\, John,O=A\+B,C=GB"#)
        #expect(cert.subjectMatches(#"CN=Doe\, John,O=A\+B,C=GB"#))
        #expect(cert.subjectMatches(#"CN=Doe\2C John,O=A\2bB,C=GB"#))
        #expect(!cert.subjectMatches("CN=Doe, John,O=A+B,C=GB"))
    }

    @Test func serverCertificateSANs() throws {
        let server = try DemoPKI.issueServerCertificate(ca: Self.ca, hosts: ["localhost", "127.0.0.1", "::1", "as.example"])
        let cert = try ClientCertificate.fromPEM(server.certificatePEM)
        #expect(cert.sanDNS == ["localhost", "as.example"])
        #expect(cert.sanIP == ["127.0.0.1", "::1"])
        #expect(cert.sanURI.isEmpty && cert.sanEmail.isEmpty)
        #expect(try cert.leaf.extensions.extendedKeyUsage?.contains(.serverAuth) == true)
    }

    @Test func ipv6Formatting() {
        #expect(IPText.format([0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1]) == "2001:db8::1")
        #expect(IPText.format([0, 1] + Array(repeating: 0, count: 14)) == "1::")
        #expect(IPText.format(Array(repeating: 0, count: 16)) == "::")
        #expect(IPText.format([0x20, 0x01, 0, 0, 0, 1] + Array(repeating: 1, count: 10)) == "2001:0:1:101:101:101:101:101")
    }

    @Test func publicKeyMatchesJWKSet() throws {
        for alg in [JWSAlgorithm.es256, .ps256] {
            let selfSigned = try DemoPKI.selfSignedClientCertificate(commonName: "self", keyAlgorithm: alg)
            let cert = try ClientCertificate.fromPEM(selfSigned.certificatePEM)
            let (pub, priv) = try DemoPKI.jwkPair(privateKeyPEM: selfSigned.privateKeyPEM, algorithm: alg)
            #expect(priv.isPrivate && !pub.isPrivate)
            #expect(pub.kid == pub.thumbprint())
            #expect(cert.publicKeyMatches(JWKSet(keys: [JOSEFixtures.otherPS256.publicJWK, pub])))
            #expect(!cert.publicKeyMatches(JWKSet(keys: [JOSEFixtures.otherPS256.publicJWK, JOSEFixtures.es256.publicJWK])))
            #expect(!cert.publicKeyMatches(JWKSet(keys: [])))
        }
    }

    @Test func trustAnchorsValidateCAIssuedOnly() async throws {
        let anchors = try CertificateTrustAnchors(pemStrings: [Self.ca.certificatePEM])
        #expect(!anchors.isEmpty)
        let issued = try ClientCertificate.fromPEM(Self.client.certificatePEM)
        #expect(await anchors.validate(issued, at: Date()))
        // Outside the validity period.
        #expect(await !anchors.validate(issued, at: Date().addingTimeInterval(5 * 365 * 86400)))

        let selfSigned = try ClientCertificate.fromPEM(
            try DemoPKI.selfSignedClientCertificate(commonName: "client1", keyAlgorithm: .es256).certificatePEM)
        #expect(await !anchors.validate(selfSigned, at: Date()))

        let otherCA = try DemoPKI.makeCA(commonName: "Strongroom Test CA")  // same name, different key
        let fromOther = try ClientCertificate.fromPEM(
            try DemoPKI.issueClientCertificate(ca: otherCA, commonName: "client1", organization: "Strongroom Demo", keyAlgorithm: .ps256)
                .certificatePEM)
        #expect(await !anchors.validate(fromOther, at: Date()))
        #expect(await !(try CertificateTrustAnchors(pemStrings: [])).validate(issued, at: Date()))
    }

    @Test func trustAnchorsRefuseServerOnlyCertificate() async throws {
        let anchors = try CertificateTrustAnchors(pemStrings: [Self.ca.certificatePEM])
        let server = try DemoPKI.issueServerCertificate(ca: Self.ca, hosts: ["localhost"])
        #expect(await !anchors.validate(try ClientCertificate.fromPEM(server.certificatePEM), at: Date()))
    }

    @Test func trustAnchorsFromFile() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("jose-test-ca-\(UUID().uuidString).pem").path
        try Self.ca.certificatePEM.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let anchors = try CertificateTrustAnchors(pemFiles: [path])
        #expect(await anchors.validate(try ClientCertificate.fromPEM(Self.client.certificatePEM), at: Date()))
    }

    @Test func rfc9440Header() throws {
        let leaf = ":" + Self.client.certificateDER.base64EncodedString() + ":"
        let chain = ":" + Self.ca.certificateDER.base64EncodedString() + ":"
        let cert = try ClientCertificate.fromRFC9440(header: leaf, chainHeader: " \(chain) ")
        #expect(cert.chainDER == [Self.client.certificateDER, Self.ca.certificateDER])
        #expect(cert.subjectDN == "CN=client1,O=Strongroom Demo,C=GB")
        #expect(try ClientCertificate.fromRFC9440(header: leaf, chainHeader: nil).chainDER.count == 1)

        for bad in ["", "::", Self.client.certificateDER.base64EncodedString(), ":not base64!:", ":" + Data("hello".utf8).base64EncodedString() + ":"] {
            #expect(throws: JOSEError.self) { try ClientCertificate.fromRFC9440(header: bad, chainHeader: nil) }
        }
        #expect(throws: JOSEError.self) { try ClientCertificate.fromRFC9440(header: leaf, chainHeader: "\(chain),") }
    }

    @Test func refusesMalformedCertificates() {
        #expect(throws: JOSEError.self) { try ClientCertificate(chainDER: []) }
        #expect(throws: JOSEError.self) { try ClientCertificate(chainDER: [Data([0x30, 0x03, 0x02, 0x01, 0x01])]) }
        #expect(throws: JOSEError.self) { try ClientCertificate.fromPEM("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----") }
        #expect(throws: JOSEError.self) { try ClientCertificate.fromPEM(Self.client.privateKeyPEM) }
    }
}
