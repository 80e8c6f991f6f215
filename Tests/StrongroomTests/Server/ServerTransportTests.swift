import Foundation
import StrongroomCore
import StrongroomDemo
import StrongroomEngine
import StrongroomJOSE
import Testing

@testable import StrongroomServer

@Suite struct ServerRouteTableTests {
    let routes = RouteTable(issuer: "https://as.example", resourceAPI: true)

    static let table: [(String, String, Endpoint)] = [
        ("GET", "/authorize", .authorize), ("POST", "/authorize", .authorize), ("POST", "/login", .login),
        ("POST", "/consent", .consent), ("GET", "/grants", .grants), ("POST", "/grants/revoke", .grantsRevoke),
        ("POST", "/logout", .logout), ("POST", "/par", .par), ("POST", "/token", .token),
        ("POST", "/introspect", .introspect), ("POST", "/revoke", .revoke), ("GET", "/userinfo", .userinfo),
        ("POST", "/userinfo", .userinfo), ("POST", "/register", .register),
        ("GET", "/.well-known/openid-configuration", .discoveryOpenID),
        ("GET", "/.well-known/oauth-authorization-server", .discoveryOAuth), ("GET", "/jwks", .jwks),
        ("GET", "/api/accounts", .accounts), ("POST", "/api/payments", .payments), ("GET", "/healthz", .health),
        ("GET", "/metrics", .metrics), ("DELETE", "/admin/clients/abc", .admin), ("GET", "/admin", .admin),
    ]

    @Test(arguments: table)
    func routesMatch(method: String, path: String, endpoint: Endpoint) {
        #expect(routes.match(method: method, path: path) == .endpoint(endpoint))
    }

    @Test func wrongMethodIs405WithAllowList() {
        #expect(routes.match(method: "GET", path: "/token") == .methodNotAllowed(allowed: ["POST"]))
        #expect(routes.match(method: "DELETE", path: "/authorize") == .methodNotAllowed(allowed: ["GET", "POST"]))
        #expect(routes.match(method: "POST", path: "/register/x") == .methodNotAllowed(allowed: ["DELETE", "GET", "PUT"]))
    }

    @Test func unknownPathsAre404() {
        for p in ["/", "/token/", "/Token", "/tokens", "/register/", "/register/a/b", "/api/other", "/.well-known/x"] {
            #expect(routes.match(method: "GET", path: p) == .notFound, "\(p)")
        }
    }

    @Test func registrationClientIDIsPercentDecoded() {
        #expect(routes.match(method: "GET", path: "/register/abc%20def") == .endpoint(.registration, clientID: "abc def"))
        #expect(routes.match(method: "PUT", path: "/register/c1") == .endpoint(.registration, clientID: "c1"))
    }

    @Test func demoCallbackExistsOnlyWithDemoPages() {
        #expect(routes.match(method: "GET", path: "/demo/callback") == .notFound)
        #expect(routes.match(method: "POST", path: "/demo/callback") == .notFound)
        let demo = RouteTable(issuer: "https://as.example/t", resourceAPI: true, demoPages: true)
        #expect(demo.match(method: "GET", path: "/t/demo/callback") == .endpoint(.demoCallback))
        #expect(demo.match(method: "POST", path: "/t/demo/callback") == .endpoint(.demoCallback))
        #expect(demo.match(method: "PUT", path: "/t/demo/callback") == .methodNotAllowed(allowed: ["GET", "POST"]))
    }

    @Test func resourceAPICanBeTurnedOff() {
        let off = RouteTable(issuer: "https://as.example", resourceAPI: false)
        #expect(off.match(method: "GET", path: "/api/accounts") == .notFound)
        #expect(off.match(method: "POST", path: "/api/payments") == .notFound)
    }

    @Test func routesAreMountedUnderTheIssuerPath() {
        let t = RouteTable(issuer: "https://as.example/tenant1/", resourceAPI: true)
        #expect(t.basePath == "/tenant1")
        #expect(t.match(method: "POST", path: "/tenant1/token") == .endpoint(.token))
        #expect(t.match(method: "POST", path: "/token") == .notFound)
        #expect(t.match(method: "POST", path: "/tenant10/token") == .notFound)
        #expect(t.relativePath("/tenant1/admin/x") == "/admin/x")
        #expect(RouteTable(issuer: "https://as.example", resourceAPI: true).basePath == "")
    }
}

@Suite struct ServerInteractionIDTests {
    @Test func validUUIDIsEchoed() {
        let id = "C9B4A1A2-3B7E-4C1D-9E6F-0123456789AB"
        #expect(InteractionID.resolve(id) == id)
        #expect(InteractionID.resolve(" \(id.lowercased()) ") == id.lowercased())
    }

    @Test(arguments: [nil, "", "abc", "c9b4a1a2-3b7e-4c1d-9e6f-0123456789ag", "c9b4a1a2_3b7e-4c1d-9e6f-0123456789ab",
                      "c9b4a1a2-3b7e-4c1d-9e6f-0123456789ab\r\nSet-Cookie: x=1", String(repeating: "a", count: 36)])
    func invalidValuesGetAFreshUUID(presented: String?) {
        let id = InteractionID.resolve(presented)
        #expect(id != presented)
        #expect(InteractionID.isValid(id))
        #expect(UUID(uuidString: id) != nil)
    }
}

@Suite struct ServerProxyTrustTests {
    @Test func exactAddressesAndRanges() {
        let p = TrustedProxies(["10.0.0.5", "192.168.1.0/24", "2001:db8::/32", "::1", "not-an-ip", "10.1.0.0/99"])
        #expect(p.contains("10.0.0.5"))
        #expect(!p.contains("10.0.0.6"))
        #expect(p.contains("192.168.1.77"))
        #expect(!p.contains("192.168.2.1"))
        #expect(p.contains("2001:db8:1::42"))
        #expect(!p.contains("2001:db9::1"))
        #expect(p.contains("::1"))
        #expect(p.contains("::ffff:10.0.0.5"), "IPv4-mapped IPv6 peer of a dual-stack socket")
        #expect(!p.contains("10.1.0.1"), "an invalid prefix length is ignored, not widened")
        #expect(!p.contains(nil))
        #expect(!p.contains("garbage"))
        #expect(!TrustedProxies([]).contains("127.0.0.1"))
        #expect(TrustedProxies(["0.0.0.0/0"]).contains("203.0.113.9"))
    }

    let tlsChain = [Data([1, 2, 3])]

    /// A real certificate in RFC 9440 form from an untrusted peer is ignored (the TLS chain, if any, counts);
    /// from a trusted proxy the same header value yields exactly that certificate, so it is not unparseable.
    @Test func untrustedPeerCannotForwardACertificate() throws {
        let issued = try DemoPKI.selfSignedClientCertificate(commonName: "forwarded", keyAlgorithm: .es256)
        let der = try ClientCertificate.fromPEM(issued.certificatePEM).chainDER[0]
        let tls = try ClientCertificate.fromPEM(try DemoPKI.selfSignedClientCertificate(commonName: "tls", keyAlgorithm: .es256).certificatePEM).chainDER
        let header = ":\(der.base64EncodedString()):"
        func resolved(tlsChain: [Data]?, trusted: Bool) -> ClientCertificate? {
            ClientCertificateSource.certificate(for: ClientCertificateSource.decide(
                tlsChain: tlsChain, peerIsTrustedProxy: trusted, forwardedCertificate: header, forwardedChain: nil))
        }
        #expect(ClientCertificateSource.decide(tlsChain: nil, peerIsTrustedProxy: false,
                                               forwardedCertificate: header, forwardedChain: nil) == .none)
        #expect(resolved(tlsChain: nil, trusted: false) == nil)
        #expect(ClientCertificateSource.decide(tlsChain: tls, peerIsTrustedProxy: false,
                                               forwardedCertificate: header, forwardedChain: nil) == .tls(tls))
        #expect(resolved(tlsChain: tls, trusted: false)?.chainDER == tls)
        #expect(resolved(tlsChain: nil, trusted: true)?.chainDER == [der])
        #expect(resolved(tlsChain: tls, trusted: true)?.chainDER == [der])
    }

    @Test func trustedProxyHeaderWinsOverTheProxysOwnTLSCertificate() {
        #expect(ClientCertificateSource.decide(tlsChain: tlsChain, peerIsTrustedProxy: true,
                                               forwardedCertificate: " :AAAA: ", forwardedChain: ":BBBB:")
                == .forwarded(certificate: ":AAAA:", chain: ":BBBB:"))
        #expect(ClientCertificateSource.decide(tlsChain: nil, peerIsTrustedProxy: true,
                                               forwardedCertificate: ":AAAA:", forwardedChain: "  ")
                == .forwarded(certificate: ":AAAA:", chain: nil))
    }

    /// RFC 9440 §4: from a trusted proxy only the header counts; the chain in the proxy's own TLS
    /// connection is the proxy's certificate, and without a header the client presented none.
    @Test func trustedProxysOwnTLSCertificateIsNeverTheClients() {
        #expect(ClientCertificateSource.decide(tlsChain: tlsChain, peerIsTrustedProxy: true,
                                               forwardedCertificate: nil, forwardedChain: nil) == .none)
        #expect(ClientCertificateSource.decide(tlsChain: tlsChain, peerIsTrustedProxy: true,
                                               forwardedCertificate: "  ", forwardedChain: ":BBBB:") == .none)
        #expect(ClientCertificateSource.decide(tlsChain: [], peerIsTrustedProxy: true,
                                               forwardedCertificate: "", forwardedChain: nil) == .none)
        // The same chain from a peer that is not a proxy is the client's own.
        #expect(ClientCertificateSource.decide(tlsChain: tlsChain, peerIsTrustedProxy: false,
                                               forwardedCertificate: nil, forwardedChain: nil) == .tls(tlsChain))
    }

    @Test func forwardedHeadersAreAlwaysStrippedFromEngineHeaders() {
        let names = ClientCertificateSource.strippedHeaderNames(certificateHeader: "X-SSL-Client-Cert")
        #expect(names == ["x-ssl-client-cert", "x-ssl-client-cert-chain", "client-cert", "client-cert-chain"])
    }

    @Test func unparsableCertificatesCountAsNone() {
        #expect(ClientCertificateSource.certificate(for: .tls([Data([0x30, 0x00])])) == nil)
        #expect(ClientCertificateSource.certificate(for: .forwarded(certificate: ":notbase64!:", chain: nil)) == nil)
        #expect(ClientCertificateSource.certificate(for: .none) == nil)
    }
}

@Suite struct ServerSessionCookieTests {
    @Test func setCookieHasAllAttributes() {
        let now = Date(timeIntervalSince1970: 1_000_000)
        let v = SessionCookie.set(value: "abc_DEF-123", expiresAt: now.addingTimeInterval(3600.7), now: now)
        #expect(v == "strongroom_session=abc_DEF-123; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=3600")
        #expect(SessionCookie.set(value: "x", expiresAt: now.addingTimeInterval(-5), now: now).hasSuffix("Max-Age=0"))
        #expect(SessionCookie.clear() == "strongroom_session=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0")
    }

    @Test func readsTheSessionCookie() {
        #expect(SessionCookie.value(fromCookieHeaders: ["a=1; strongroom_session=tok-EN_1; b=2"]) == "tok-EN_1")
        #expect(SessionCookie.value(fromCookieHeaders: ["a=1", "strongroom_session=\"q\""]) == "q")
        #expect(SessionCookie.value(fromCookieHeaders: ["strongroom_sessionx=1"]) == nil)
        #expect(SessionCookie.value(fromCookieHeaders: ["strongroom_session="]) == nil)
        #expect(SessionCookie.value(fromCookieHeaders: ["strongroom_session=a b<c>"]) == nil)
        #expect(SessionCookie.value(fromCookieHeaders: []) == nil)
    }
}

extension ServerInteractionIDTests {
    /// Minted ids (made without Foundation's UUID()) are lower-case RFC 4122 version-4 UUIDs, distinct
    /// from one another.
    @Test func mintedIDsAreRandomVersion4UUIDs() {
        var seen = Set<String>()
        for _ in 0..<1000 {
            let id = InteractionID.minted()
            #expect(InteractionID.isValid(id))
            #expect(id == id.lowercased())
            let chars = Array(id)
            #expect(chars[14] == "4")
            #expect("89ab".contains(chars[19]))
            #expect(UUID(uuidString: id) != nil)
            seen.insert(id)
        }
        #expect(seen.count == 1000)
    }
}
