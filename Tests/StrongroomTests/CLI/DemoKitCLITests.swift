import Foundation
import Logging
import StrongroomCore
import StrongroomDemo
import StrongroomEngine
import StrongroomJOSE
import StrongroomPolicy
import StrongroomStorage
import SwiftASN1
import Testing
import X509
import _CryptoExtras

/// `strongroom demo init`: the kit it writes parses, validates, and every seeded client conforms.
@Suite("CLI demo kit")
struct DemoKitCLITests {
    /// One kit for the read-only tests (RSA key generation is slow).
    static let shared: (kit: DemoKit.Kit, dir: URL) = {
        let dir = temporaryDirectory()
        let kit = try! DemoKit.write(.init(directory: dir.path, port: 9443, mtlsPort: 9444))
        return (kit, dir)
    }()

    static func temporaryDirectory() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("strongroom-demo-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func read(_ name: String) throws -> String {
        try String(contentsOf: shared.dir.appendingPathComponent(name), encoding: .utf8)
    }

    @Test("writes every file of the kit")
    func writesEveryFile() throws {
        for name in DemoKit.fileNames {
            #expect(FileManager.default.fileExists(atPath: Self.shared.dir.appendingPathComponent(name).path), "missing \(name)")
        }
    }

    @Test("the YAML round-trips to the same configuration")
    func yamlRoundTrips() throws {
        let parsed = try StrongroomConfiguration.parse(try Self.read(DemoKit.configurationFile))
        #expect(parsed == Self.shared.kit.configuration)
    }

    @Test("the kit serves the demo pages, keeps /metrics closed and asks for certificates only on the mTLS alias")
    func demoSurfaces() throws {
        let config = try StrongroomConfiguration.load(path: Self.shared.kit.configurationPath, environment: [:])
        #expect(config.server.demoPages == true)
        #expect(config.server.requestClientCertificate == false)
        #expect(config.server.mtlsAlias != nil)
        #expect(config.metrics.isPublic == false)
    }

    @Test("the configuration loads and validates, with paths resolved next to it")
    func loadsAndValidates() throws {
        let config = try StrongroomConfiguration.load(path: Self.shared.kit.configurationPath, environment: [:])
        #expect(config.service.issuer == "https://localhost:9443")
        #expect(config.server.port == 9443)
        #expect(config.server.mtlsAlias?.port == 9444)
        #expect(config.server.tlsCertificate == Self.shared.dir.appendingPathComponent("server.pem").path)
        #expect(config.server.clientCATrustAnchors == [Self.shared.dir.appendingPathComponent("ca.pem").path])
        #expect(config.database.url == "sqlite:" + Self.shared.dir.appendingPathComponent("strongroom.sqlite").path)
        #expect(Data(base64Encoded: config.secretHashKey)?.count == 32)
        #expect(config.admin.token != nil)
        #expect(config.service.registration.enabled)
        #expect(config.service.registration.initialAccessTokens == [Self.shared.kit.initialAccessToken])
        #expect(config.service.acrValues == ["urn:mace:incommon:iap:silver"])
    }

    @Test("four FAPI scopes select Baseline, Advanced, the FAPI 2.0 Security Profile and Message Signing")
    func fapiScopes() throws {
        let service = Self.shared.kit.configuration.service
        #expect(service.scope(named: "accounts")?.profile == .fapi1Baseline)
        #expect(service.scope(named: "accounts")?.description == "Read your account balances and transactions")
        #expect(service.scope(named: "payments")?.profile == .fapi1Advanced)
        #expect(service.scope(named: "payments")?.description == "Make payments from your accounts")
        #expect(service.scope(named: "fapi2-accounts")?.profile == .fapi2Security)
        #expect(service.scope(named: "fapi2-payments")?.profile == .fapi2MessageSigning)
        for name in ["openid", "profile", "email", "offline_access"] { #expect(service.scope(named: name) != nil) }
        #expect(ServiceConformance(service: service).violations() == [])
    }

    @Test("five clients, each conforming to the profiles its scopes imply")
    func clientsConform() throws {
        let config = Self.shared.kit.configuration
        #expect(config.clients.map(\.clientID) == [DemoKit.fapiClient1, DemoKit.fapiClient2, DemoKit.fapi2DPoPClient,
                                                     DemoKit.fapi2MTLSClient, DemoKit.plainClient])
        let conformance = ClientConformance(service: config.service)
        let selector = ProfileSelector(service: config.service)
        for client in config.clients {
            #expect(conformance.violations(of: client.metadata) == [], "\(client.clientID)")
        }
        let fapi1 = try #require(config.clients.first { $0.clientID == DemoKit.fapiClient1 })
        #expect(selector.profiles(for: fapi1.metadata) == [.fapi1Baseline, .fapi1Advanced])
        #expect(fapi1.metadata.tokenEndpointAuthMethod == .privateKeyJWT)
        #expect(fapi1.metadata.redirectURIs.contains(DemoKit.conformanceSuiteRedirectURI))
        #expect(fapi1.clientSecret == nil)
        let dpop = try #require(config.clients.first { $0.clientID == DemoKit.fapi2DPoPClient })
        #expect(selector.profiles(for: dpop.metadata) == [.fapi2Security, .fapi2MessageSigning])
        #expect(dpop.metadata.dpopBoundAccessTokens && !dpop.metadata.tlsClientCertificateBoundAccessTokens)
        let mtls = try #require(config.clients.first { $0.clientID == DemoKit.fapi2MTLSClient })
        #expect(mtls.metadata.tokenEndpointAuthMethod == .tlsClientAuth && mtls.metadata.tlsClientCertificateBoundAccessTokens)
        let plain = try #require(config.clients.first { $0.clientID == DemoKit.plainClient })
        #expect(selector.profiles(for: plain.metadata) == [])
        #expect(plain.clientSecret == Self.shared.kit.plainClientSecret)
    }

    @Test("client 2's subject DN is its certificate's, and client 1's public JWK Set matches its key")
    func certificatesAndKeys() async throws {
        let config = Self.shared.kit.configuration
        let fapi2 = try #require(config.clients.first { $0.clientID == DemoKit.fapiClient2 })
        let cert2 = try ClientCertificate.fromPEM(try Self.read("client2.pem"))
        #expect(fapi2.metadata.tlsClientAuthSubjectDN == cert2.subjectDN)
        #expect(cert2.subjectMatches(try #require(fapi2.metadata.tlsClientAuthSubjectDN)))
        #expect(try JWKSet(json: try #require(fapi2.metadata.jwks)).keys.first?.curve == "P-256")

        let publicSet = try #require(JSONValue.parse(try Self.read("client1.public.jwks.json")))
        let privateSet = try #require(JSONValue.parse(try Self.read("client1.jwks.json")))
        let fapi1 = try #require(config.clients.first { $0.clientID == DemoKit.fapiClient1 })
        #expect(fapi1.metadata.jwks == publicSet)
        let publicKey = try #require(try JWKSet(json: publicSet).keys.first)
        #expect(!publicKey.isPrivate)
        #expect(publicKey.rsaModulusBits == 2048)
        #expect(privateSet["keys"]?.arrayValue?.first?["d"] != nil)
        let cert1 = try ClientCertificate.fromPEM(try Self.read("client1.pem"))
        #expect(cert1.publicKeyMatches(try JWKSet(json: publicSet)))
        // Both client certificates chain to the kit's CA.
        let anchors = try CertificateTrustAnchors(pemFiles: [Self.shared.dir.appendingPathComponent("ca.pem").path])
        #expect(await anchors.validate(cert1, at: Date()))
        #expect(await anchors.validate(cert2, at: Date()))
    }

    @Test("files say they are demo material; private keys are readable by the owner only")
    func labelsAndPermissions() throws {
        for name in ["ca.pem", "ca.key.pem", "server.pem", "server.key.pem", "client1.key.pem", "client2.key.pem"] {
            #expect(try Self.read(name).hasPrefix("DEMO / TEST MATERIAL"), "\(name)")
        }
        #expect(try Self.read(DemoKit.configurationFile).contains("DEMO configuration"))
        #expect(try Self.read("README.txt").contains("TEST MATERIAL ONLY"))
        for name in ["ca.key.pem", "server.key.pem", "client1.key.pem", "client2.key.pem", "client1.jwks.json", DemoKit.configurationFile] {
            let attributes = try FileManager.default.attributesOfItem(atPath: Self.shared.dir.appendingPathComponent(name).path)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600, "\(name)")
        }
    }

    @Test("an existing kit is kept unless --force")
    func refusesToOverwrite() throws {
        let dir = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = try DemoKit.write(.init(directory: dir.path))
        #expect(throws: DemoKit.Failure.self) { try DemoKit.write(.init(directory: dir.path)) }
        let second = try DemoKit.write(.init(directory: dir.path, force: true))
        #expect(first.adminToken != second.adminToken)
        #expect(first.configuration.service.issuer == "https://localhost:8443")
    }

    @Test("strings that YAML would read as something else are quoted", arguments: [
        "yes", "no", "true", "null", "~", "12", "0x1F", "1.5", "-x", "a: b", "a #b", "#c", "", " lead", "trail ",
        "quote\"d", "back\\slash", "line\nbreak", "tab\there", "@at", "*star", "&amp", "!bang", "%pct", "{x}", "[y]",
        "é unicode ✓", "key:", "2024-01-01",
    ])
    func yamlQuoting(_ text: String) throws {
        var config = Self.shared.kit.configuration
        config.service.scopes[0].description = text
        config.users[0].claims["nickname"] = .string(text)
        let parsed = try StrongroomConfiguration.parse(DemoKit.configurationYAML(config))
        #expect(parsed == config)
    }

    @Test("the example in docs/configuration.md parses")
    func documentedExampleParses() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let doc = try String(contentsOf: root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        let start = try #require(doc.range(of: "```yaml\n"))
        let end = try #require(doc.range(of: "\n```", range: start.upperBound..<doc.endIndex))
        let config = try StrongroomConfiguration.parse(String(doc[start.upperBound..<end.lowerBound]))
        #expect(config.service.scope(named: "payments")?.profile == .fapi1Advanced)
        #expect(config.server.mtlsAlias?.baseURL == "https://mtls.as.bank.example")
        #expect(config.clients.first?.metadata.responseTypes == [.codeIDToken])
        #expect(ClientConformance(service: config.service).violations(of: config.clients[0].metadata) == [])
        #expect(ServiceConformance(service: config.service).violations() == [])
    }

    @Test("the engine starts on the kit, seeding its five clients and its user")
    func engineSeedsTheKit() async throws {
        let config = try StrongroomConfiguration.load(path: Self.shared.kit.configurationPath, environment: [:])
        var logger = Logger(label: "test.cli")
        logger.logLevel = .warning
        let storage = try await SQLStorage.open(url: "sqlite::memory:", logger: logger)
        try await storage.migrate()
        let engine = try await Engine.start(configuration: config, storage: storage, logger: logger)
        let clients = try await engine.clients.list()
        #expect(Set(clients.map(\.clientID)) == [DemoKit.fapiClient1, DemoKit.fapiClient2, DemoKit.fapi2DPoPClient,
                                                   DemoKit.fapi2MTLSClient, DemoKit.plainClient])
        #expect(clients.allSatisfy { $0.source == "config" })
        for client in config.clients {
            #expect(engine.clients.validate(client.metadata) == [], "\(client.clientID)")
        }
        #expect(try await engine.users.list().map(\.username) == [DemoKit.demoUsername])
        #expect(await engine.users.authenticate(username: DemoKit.demoUsername, password: DemoKit.demoPassword) != nil)
        await engine.shutdown()
        try await storage.shutdown()
    }

    @Test("the server certificate has an RSA key (FAPI TLS 1.2 ECDHE_RSA suites) and names localhost and 127.0.0.1")
    func serverCertificate() throws {
        let cert = try Certificate(pemEncoded: try Self.read("server.pem"))
        #expect(_RSA.Signing.PublicKey(cert.publicKey) != nil)
        let sans = try #require(try cert.extensions.subjectAlternativeNames)
        #expect(sans.contains(.dnsName("localhost")))
        #expect(sans.contains { if case .ipAddress = $0 { true } else { false } })
        #expect(try Self.read("server.key.pem").contains("-----BEGIN"))
    }
}
