import Foundation
import StrongroomCore
import StrongroomJOSE
import Yams

/// The demo kit written by `strongroom demo init`: a test CA, a server certificate for
/// localhost/127.0.0.1, four client certificates with their JWK Sets, and a configuration with
/// FAPI scopes (`accounts` → FAPI 1.0 Baseline, `payments` → FAPI 1.0 Advanced, `fapi2-accounts`
/// → FAPI 2.0 Security Profile, `fapi2-payments` → FAPI 2.0 Message Signing), five clients and
/// one user.
///
/// Everything it writes is DEMO/TEST material: fresh keys on every run, secrets printed on the
/// terminal and stored in plain text. It lives in its own target, used only by the executable and
/// the tests (never by a production target), so tests can check that the kit parses, validates,
/// and that every seeded client conforms to its profiles.
public enum DemoKit {
    public static let configurationFile = "strongroom.yaml"
    public static let fapiClient1 = "demo-fapi-1"
    public static let fapiClient2 = "demo-fapi-2"
    /// FAPI 2.0: private_key_jwt with client3's key, DPoP-bound tokens.
    public static let fapi2DPoPClient = "demo-fapi2-dpop"
    /// FAPI 2.0: tls_client_auth with client4's certificate, certificate-bound tokens.
    public static let fapi2MTLSClient = "demo-fapi2-mtls"
    public static let plainClient = "demo-plain"
    public static let demoUsername = "alice"
    public static let demoPassword = "wonderland-demo"
    /// The OpenID Foundation conformance suite's redirect URI for a test plan alias `strongroom`.
    public static let conformanceSuiteRedirectURI = "https://localhost.emobix.co.uk:8443/test/a/strongroom/callback"
    /// The kit's TEST key-encryption key (`keys.encryption_key_file`), beside the configuration.
    public static let keyEncryptionKeyFile = "encryption.test.key"

    /// Every file the kit writes, relative to its folder.
    public static let fileNames = [
        "ca.pem", "ca.key.pem", "server.pem", "server.key.pem",
        "client1.pem", "client1.key.pem", "client1.jwks.json", "client1.public.jwks.json",
        "client2.pem", "client2.key.pem", "client2.jwks.json", "client2.public.jwks.json",
        "client3.pem", "client3.key.pem", "client3.jwks.json", "client3.public.jwks.json",
        "client4.pem", "client4.key.pem", "client4.jwks.json", "client4.public.jwks.json",
        keyEncryptionKeyFile, configurationFile, "README.txt",
    ]

    public struct Options: Sendable {
        public var directory: String
        /// Port of the main TLS listener (also in the issuer, `https://localhost:PORT`).
        public var port: Int
        /// Port of the mutual-TLS alias listener (RFC 8705 §5).
        public var mtlsPort: Int
        /// Address both listeners bind to.
        public var host: String
        /// Overwrite an existing kit (and delete its SQLite database).
        public var force: Bool
        public init(directory: String, port: Int = 8443, mtlsPort: Int = 8444, host: String = "127.0.0.1", force: Bool = false) {
            self.directory = directory
            self.port = port
            self.mtlsPort = mtlsPort
            self.host = host
            self.force = force
        }
    }

    /// What was written, with the secrets to show the operator once.
    public struct Kit: Sendable {
        public var directory: String
        public var configurationPath: String
        public var configuration: StrongroomConfiguration
        public var yaml: String
        public var adminToken: String
        public var initialAccessToken: String
        public var plainClientSecret: String
        /// `tls_client_auth_subject_dn` of client 2, as `ClientCertificate.subjectDN` prints it.
        public var client2SubjectDN: String
        public var discoveryURL: String { configuration.service.issuer + "/.well-known/openid-configuration" }
    }

    public enum Failure: Error, CustomStringConvertible {
        case exists([String])
        case badPort(String)
        public var description: String {
            switch self {
            case .exists(let files): "a demo kit already exists there (\(files.count) of its files, e.g. \(files[0])); use --force to replace it and its database"
            case .badPort(let m): m
            }
        }
    }

    // MARK: - Writing

    /// Generates fresh keys and certificates and writes the whole kit into `options.directory`.
    public static func write(_ options: Options, random: any RandomSource = SystemRandom()) throws -> Kit {
        for (name, p) in [("--port", options.port), ("--mtls-port", options.mtlsPort)] where !(1...65535).contains(p) {
            throw Failure.badPort("\(name) must be 1-65535")
        }
        guard options.port != options.mtlsPort else { throw Failure.badPort("--port and --mtls-port must differ") }
        let fm = FileManager.default
        let dir = URL(fileURLWithPath: options.directory).standardizedFileURL
        let existing = fileNames.filter { fm.fileExists(atPath: dir.appendingPathComponent($0).path) }
        if !existing.isEmpty && !options.force { throw Failure.exists(existing) }
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)

        // PKI: one CA for the server and both clients, so the same ca.pem is trusted both ways.
        let ca = try DemoPKI.makeCA(commonName: "Strongroom DEMO Test CA - NOT FOR PRODUCTION")
        // RSA: the TLS 1.2 suites FAPI 1.0 Part 2 §8.5 permits are ECDHE_RSA.
        let server = try DemoPKI.issueServerCertificate(ca: ca, hosts: ["localhost", "127.0.0.1"], keyAlgorithm: .ps256)
        let client1 = try DemoPKI.issueClientCertificate(
            ca: ca, commonName: fapiClient1, organization: "Strongroom Demo Client 1", keyAlgorithm: .ps256)
        let client2 = try DemoPKI.issueClientCertificate(
            ca: ca, commonName: fapiClient2, organization: "Strongroom Demo Client 2", keyAlgorithm: .es256)
        let client3 = try DemoPKI.issueClientCertificate(
            ca: ca, commonName: fapi2DPoPClient, organization: "Strongroom Demo Client 3", keyAlgorithm: .es256)
        let client4 = try DemoPKI.issueClientCertificate(
            ca: ca, commonName: fapi2MTLSClient, organization: "Strongroom Demo Client 4", keyAlgorithm: .es256)
        let keys1 = try DemoPKI.jwkPair(privateKeyPEM: client1.privateKeyPEM, algorithm: .ps256)
        let keys2 = try DemoPKI.jwkPair(privateKeyPEM: client2.privateKeyPEM, algorithm: .es256)
        let keys3 = try DemoPKI.jwkPair(privateKeyPEM: client3.privateKeyPEM, algorithm: .es256)
        let keys4 = try DemoPKI.jwkPair(privateKeyPEM: client4.privateKeyPEM, algorithm: .es256)
        let subjectDN2 = try ClientCertificate.fromPEM(client2.certificatePEM).subjectDN
        let subjectDN4 = try ClientCertificate.fromPEM(client4.certificatePEM).subjectDN

        let secrets = Secrets(
            secretHashKey: Data(random.bytes(32)).base64EncodedString(),
            keyEncryptionKey: Data(random.bytes(32)).base64EncodedString(),
            adminToken: random.token(bits: 256),
            initialAccessToken: random.token(bits: 256),
            plainClientSecret: random.token(bits: 256))
        let config = configuration(
            options: options, secrets: secrets,
            client1PublicJWKS: JWKSet(keys: [keys1.publicJWK]).json,
            client2PublicJWKS: JWKSet(keys: [keys2.publicJWK]).json,
            client2SubjectDN: subjectDN2,
            client3PublicJWKS: JWKSet(keys: [keys3.publicJWK]).json,
            client4PublicJWKS: JWKSet(keys: [keys4.publicJWK]).json,
            client4SubjectDN: subjectDN4)
        let yaml = try configurationYAML(config)

        func pem(_ text: String, _ what: String) -> String {
            """
            DEMO / TEST MATERIAL - NOT FOR PRODUCTION.
            \(what)
            Written by `strongroom demo init`; see README.txt in this folder.

            """ + text + (text.hasSuffix("\n") ? "" : "\n")
        }
        func json(_ value: JSONValue) throws -> String {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            return String(decoding: try enc.encode(value), as: UTF8.self) + "\n"
        }
        let files: [(String, String, Bool)] = [
            ("ca.pem", pem(ca.certificatePEM, "Demo certificate authority. Trust it (curl --cacert ca.pem) only for this demo."), false),
            ("ca.key.pem", pem(ca.privateKeyPEM, "Private key of the demo CA."), true),
            ("server.pem", pem(server.certificatePEM, "Demo TLS server certificate (RSA-2048) for localhost and 127.0.0.1."), false),
            ("server.key.pem", pem(server.privateKeyPEM, "Private key (RSA-2048) of the demo TLS server certificate."), true),
            ("client1.pem", pem(client1.certificatePEM, "Demo client certificate of \(fapiClient1) (RSA, PS256)."), false),
            ("client1.key.pem", pem(client1.privateKeyPEM, "Private key of \(fapiClient1) (RSA-2048): mTLS and private_key_jwt."), true),
            ("client1.jwks.json", try json(JWKSet(keys: [keys1.privateJWK]).json), true),
            ("client1.public.jwks.json", try json(JWKSet(keys: [keys1.publicJWK]).json), false),
            ("client2.pem", pem(client2.certificatePEM, "Demo client certificate of \(fapiClient2) (EC P-256, ES256)."), false),
            ("client2.key.pem", pem(client2.privateKeyPEM, "Private key of \(fapiClient2) (EC P-256): mTLS and request objects."), true),
            ("client2.jwks.json", try json(JWKSet(keys: [keys2.privateJWK]).json), true),
            ("client2.public.jwks.json", try json(JWKSet(keys: [keys2.publicJWK]).json), false),
            ("client3.pem", pem(client3.certificatePEM, "Demo client certificate of \(fapi2DPoPClient) (EC P-256, ES256)."), false),
            ("client3.key.pem", pem(client3.privateKeyPEM, "Private key of \(fapi2DPoPClient) (EC P-256): private_key_jwt and request objects."), true),
            ("client3.jwks.json", try json(JWKSet(keys: [keys3.privateJWK]).json), true),
            ("client3.public.jwks.json", try json(JWKSet(keys: [keys3.publicJWK]).json), false),
            ("client4.pem", pem(client4.certificatePEM, "Demo client certificate of \(fapi2MTLSClient) (EC P-256, ES256)."), false),
            ("client4.key.pem", pem(client4.privateKeyPEM, "Private key of \(fapi2MTLSClient) (EC P-256): mTLS and request objects."), true),
            ("client4.jwks.json", try json(JWKSet(keys: [keys4.privateJWK]).json), true),
            ("client4.public.jwks.json", try json(JWKSet(keys: [keys4.publicJWK]).json), false),
            (keyEncryptionKeyFile, keyEncryptionKeyText(secrets.keyEncryptionKey), true),
            (configurationFile, yaml, true),
            ("README.txt", readme(options: options, config: config, subjectDN2: subjectDN2), false),
        ]
        if options.force {
            // A fresh secret_hash_key invalidates every stored hash: start the database afresh too.
            for suffix in ["", "-wal", "-shm"] {
                try? fm.removeItem(at: dir.appendingPathComponent("strongroom.sqlite" + suffix))
            }
        }
        for (name, text, secret) in files {
            let url = dir.appendingPathComponent(name)
            try? fm.removeItem(at: url)
            guard fm.createFile(atPath: url.path, contents: Data(text.utf8),
                                attributes: [.posixPermissions: secret ? 0o600 : 0o644]) else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
            }
        }
        return Kit(
            directory: dir.path, configurationPath: dir.appendingPathComponent(configurationFile).path,
            configuration: config, yaml: yaml, adminToken: secrets.adminToken,
            initialAccessToken: secrets.initialAccessToken, plainClientSecret: secrets.plainClientSecret,
            client2SubjectDN: subjectDN2)
    }

    struct Secrets {
        var secretHashKey: String
        var keyEncryptionKey: String
        var adminToken: String
        var initialAccessToken: String
        var plainClientSecret: String
    }

    /// The TEST key-encryption key file: comment lines marking it, then the base64 key.
    static func keyEncryptionKeyText(_ base64: String) -> String {
        KeySettings.keyFileText(base64: base64, comment: [
            "DEMO / TEST MATERIAL - NOT FOR PRODUCTION.",
            "Key encryption key (AES-256) of this demo kit: the server's signing keys and client_secret_jwt",
            "secrets are stored encrypted under it in strongroom.sqlite (keys.encryption_key_file).",
            "Written by `strongroom demo init`; see README.txt in this folder.",
        ])
    }

    /// Writes a fresh TEST key-encryption key file into a kit written before encryption at rest
    /// (unless one is there already); returns its path.
    public static func addKeyEncryptionKey(toKitIn directory: String, random: any RandomSource = SystemRandom()) throws -> String {
        let url = URL(fileURLWithPath: directory).standardizedFileURL.appendingPathComponent(keyEncryptionKeyFile)
        if !FileManager.default.fileExists(atPath: url.path) {
            let text = keyEncryptionKeyText(Data(random.bytes(32)).base64EncodedString())
            guard FileManager.default.createFile(atPath: url.path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
            }
        }
        return url.path
    }

    // MARK: - Configuration

    /// The demo configuration as a value (paths relative to the kit's folder, as written).
    static func configuration(
        options: Options, secrets: Secrets, client1PublicJWKS: JSONValue, client2PublicJWKS: JSONValue, client2SubjectDN: String,
        client3PublicJWKS: JSONValue, client4PublicJWKS: JSONValue, client4SubjectDN: String
    ) -> StrongroomConfiguration {
        let issuer = "https://localhost:\(options.port)"
        var service = ServiceSettings(issuer: issuer)
        service.scopes += [
            ScopeDefinition(name: "accounts", description: "Read your account balances and transactions",
                            attributes: [ScopeAttribute(key: "fapi", value: "r")]),
            ScopeDefinition(name: "payments", description: "Make payments from your accounts",
                            attributes: [ScopeAttribute(key: "fapi", value: "rw")]),
            ScopeDefinition(name: "fapi2-accounts", description: "Read your account balances and transactions",
                            attributes: [ScopeAttribute(key: "fapi2", value: "sp")]),
            ScopeDefinition(name: "fapi2-payments", description: "Make payments from your accounts (signed requests and responses)",
                            attributes: [ScopeAttribute(key: "fapi2", value: "ms")]),
        ]
        service.acrValues = ["urn:mace:incommon:iap:silver"]
        service.registration = .init(enabled: true, initialAccessTokens: [secrets.initialAccessToken])

        // The main listener does not ask for a client certificate, so a browser opening the login pages is
        // never prompted for one; certificate-bound clients use the mutual-TLS alias.
        let server = ServerSettings(
            host: options.host, port: options.port, tlsCertificate: "server.pem", tlsPrivateKey: "server.key.pem",
            clientCATrustAnchors: ["ca.pem"],
            mtlsAlias: .init(host: options.host, port: options.mtlsPort, baseURL: "https://localhost:\(options.mtlsPort)"),
            requestClientCertificate: false, demoPages: true)

        let callback = "\(issuer)/demo/callback"
        let fapiScope = "openid profile email accounts payments offline_access"

        let fapi1 = ClientMetadata(
            clientName: "Strongroom demo FAPI client 1 (private_key_jwt, PS256)",
            redirectURIs: [callback, conformanceSuiteRedirectURI],
            tokenEndpointAuthMethod: .privateKeyJWT, tokenEndpointAuthSigningAlg: .ps256,
            grantTypes: [.authorizationCode, .refreshToken, .clientCredentials],
            responseTypes: [.codeIDToken, .code], scope: fapiScope, jwks: client1PublicJWKS,
            tlsClientCertificateBoundAccessTokens: true,
            requestObjectSigningAlg: .ps256, idTokenSignedResponseAlg: .ps256, authorizationSignedResponseAlg: .ps256)

        let fapi2 = ClientMetadata(
            clientName: "Strongroom demo FAPI client 2 (tls_client_auth, ES256)",
            redirectURIs: [callback, conformanceSuiteRedirectURI],
            tokenEndpointAuthMethod: .tlsClientAuth,
            grantTypes: [.authorizationCode, .refreshToken, .clientCredentials],
            responseTypes: [.codeIDToken, .code], scope: fapiScope, jwks: client2PublicJWKS,
            tlsClientAuthSubjectDN: client2SubjectDN, tlsClientCertificateBoundAccessTokens: true,
            requestObjectSigningAlg: .es256, idTokenSignedResponseAlg: .es256, authorizationSignedResponseAlg: .es256)

        // FAPI 2.0 (Security Profile and Message Signing): PAR, code only, sender-constrained
        // tokens by DPoP (client 3) or by its certificate (client 4).
        let fapi2Scope = "openid profile email fapi2-accounts fapi2-payments offline_access"
        let fapi2DPoP = ClientMetadata(
            clientName: "Strongroom demo FAPI 2.0 client (private_key_jwt, DPoP)",
            redirectURIs: [callback, conformanceSuiteRedirectURI],
            tokenEndpointAuthMethod: .privateKeyJWT, tokenEndpointAuthSigningAlg: .es256,
            grantTypes: [.authorizationCode, .refreshToken, .clientCredentials],
            responseTypes: [.code], scope: fapi2Scope, jwks: client3PublicJWKS,
            dpopBoundAccessTokens: true,
            requestObjectSigningAlg: .es256, idTokenSignedResponseAlg: .es256, authorizationSignedResponseAlg: .es256)
        let fapi2MTLS = ClientMetadata(
            clientName: "Strongroom demo FAPI 2.0 client (tls_client_auth, certificate-bound)",
            redirectURIs: [callback, conformanceSuiteRedirectURI],
            tokenEndpointAuthMethod: .tlsClientAuth,
            grantTypes: [.authorizationCode, .refreshToken, .clientCredentials],
            responseTypes: [.code], scope: fapi2Scope, jwks: client4PublicJWKS,
            tlsClientAuthSubjectDN: client4SubjectDN, tlsClientCertificateBoundAccessTokens: true,
            requestObjectSigningAlg: .es256, idTokenSignedResponseAlg: .es256, authorizationSignedResponseAlg: .es256)

        // Not FAPI: client_secret_basic and an http loopback redirect are outside FAPI 1.0
        // Baseline (§5.2.2-4, §5.2.2-20), so this client's scopes select no FAPI profile.
        let plain = ClientMetadata(
            clientName: "Strongroom demo plain OAuth client (client_secret_basic)",
            redirectURIs: [callback, "http://localhost:9000/callback"],
            tokenEndpointAuthMethod: .clientSecretBasic,
            grantTypes: [.authorizationCode, .refreshToken],
            responseTypes: [.code], scope: "openid profile email offline_access")

        let alice = SeedUser(username: demoUsername, password: demoPassword, claims: [
            "name": "Alice Liddell", "given_name": "Alice", "family_name": "Liddell",
            "email": "alice@example.com", "email_verified": true, "preferred_username": "alice",
        ])

        return StrongroomConfiguration(
            service: service, server: server, database: DatabaseSettings(url: "sqlite:strongroom.sqlite"),
            admin: AdminSettings(token: secrets.adminToken), keys: KeySettings(encryptionKeyFile: keyEncryptionKeyFile),
            secretHashKey: secrets.secretHashKey, logLevel: "info",
            clients: [
                SeedClient(clientID: fapiClient1, metadata: fapi1),
                SeedClient(clientID: fapiClient2, metadata: fapi2),
                SeedClient(clientID: fapi2DPoPClient, metadata: fapi2DPoP),
                SeedClient(clientID: fapi2MTLSClient, metadata: fapi2MTLS),
                SeedClient(clientID: plainClient, clientSecret: secrets.plainClientSecret, metadata: plain),
            ],
            users: [alice])
    }

    // MARK: - YAML

    /// The configuration as YAML, encoded with Yams from its `Codable` form (so the written keys are
    /// the ones `StrongroomConfiguration.parse` reads), under a header comment that explains the kit's
    /// settings. Round-trips through `StrongroomConfiguration.parse` to an equal value (tested).
    public static func configurationYAML(_ c: StrongroomConfiguration) throws -> String {
        let encoder = YAMLEncoder()
        encoder.options.allowUnicode = true
        encoder.options.width = -1
        return configurationHeader + (try encoder.encode(c))
    }

    static let configurationHeader = """
        # Strongroom DEMO configuration - TEST MATERIAL ONLY, NOT FOR PRODUCTION.
        # Written by `strongroom demo init`. Every key, token, secret and password in this file and in
        # the PEM/JWKS files beside it was generated for local testing and is printed on the terminal.
        # Every key is documented in docs/configuration.md. In this kit:
        # - service.issuer is every token's iss; discovery is at ISSUER/.well-known/openid-configuration.
        # - service.scopes: attributes choose the profile per request: fapi=r -> FAPI 1.0 Baseline,
        #   fapi=rw -> FAPI 1.0 Advanced, fapi2=sp -> FAPI 2.0 Security Profile, fapi2=ms -> FAPI 2.0
        #   Message Signing. service.lifetimes are in seconds.
        # - File paths (server.tls_certificate, server.tls_private_key, server.client_ca_trust_anchors,
        #   keys.encryption_key_file, the sqlite: database.url) are relative to this file.
        # - server.request_client_certificate is off: the main listener does not ask for a client
        #   certificate (no browser prompt); certificate clients use server.mtls_alias, the listener
        #   that requires one (RFC 8705 §5 mtls_endpoint_aliases). server.demo_pages serves /demo/callback.
        # - database.url: sqlite:PATH, or postgres://user:pass@host:5432/db for several nodes.
        # - DEMO secrets: admin.token (admin API bearer token; GET /metrics needs it unless
        #   metrics.public is true), service.registration.initial_access_tokens (Dynamic Client
        #   Registration, Authorization: Bearer ...), secret_hash_key (hashes stored secrets and tokens),
        #   the clients' client_secret, and the users' password (plain text is for demos only; use
        #   password_hash).
        # - keys.encryption_key_file is the TEST key-encryption key: server signing keys and
        #   client_secret_jwt secrets are stored encrypted under it (docs/operations.md).
        # - clients are created or refreshed at start-up; their keys are the RFC 7591 client metadata names.

        """

    // MARK: - README

    static func readme(options: Options, config: StrongroomConfiguration, subjectDN2: String) -> String {
        let issuer = config.service.issuer
        return """
        STRONGROOM DEMO KIT - TEST MATERIAL ONLY
        ========================================

        Everything in this folder was generated by `strongroom demo init` for local testing.
        The keys, tokens, secrets and the password are not secret (they were printed on the
        terminal) and must never be used in production.

        Run it:            strongroom demo --dir \(options.directory)
                     or:   strongroom serve --config \(options.directory)/strongroom.yaml
        Discovery:         curl --cacert ca.pem \(issuer)/.well-known/openid-configuration
        Server keys:       curl --cacert ca.pem \(issuer)/jwks
                           (the exact URL is jwks_uri in the discovery document)

        Files
        -----
        strongroom.yaml           The configuration (reference: docs/configuration.md). Holds the
                                  DEMO admin token (admin.token), the DEMO initial access token for
                                  Dynamic Client Registration (service.registration.initial_access_tokens),
                                  demo-plain's client secret, the secret_hash_key, and the user alice.
        encryption.test.key       TEST key encryption key (keys.encryption_key_file): the server's
                                  signing keys and client_secret_jwt secrets are stored encrypted
                                  under it. Without it strongroom.sqlite cannot be used.
        strongroom.sqlite         The database, created on first start (delete it to start afresh).
        ca.pem / ca.key.pem       Demo certificate authority. It issued the server certificate and
                                  every client certificate, and the server trusts it for client
                                  certificates (server.client_ca_trust_anchors). Clients trust the
                                  server with it: curl --cacert ca.pem ...
        server.pem / server.key.pem
                                  TLS server certificate for localhost and 127.0.0.1 (RSA-2048,
                                  so the FAPI TLS 1.2 ECDHE_RSA cipher suites work).
        client1.pem / client1.key.pem
                                  Client certificate and RSA-2048 key of demo-fapi-1.
        client1.jwks.json         demo-fapi-1's PRIVATE JWK Set (PS256): sign client assertions
                                  (private_key_jwt) and request objects with it.
        client1.public.jwks.json  Its public half, registered as the client's jwks.
        client2.pem / client2.key.pem
                                  Client certificate and P-256 key of demo-fapi-2
                                  (subject \(subjectDN2)).
        client2.jwks.json         demo-fapi-2's PRIVATE JWK Set (ES256): sign request objects with it.
        client2.public.jwks.json  Its public half, registered as the client's jwks.
        client3.* / client4.*     The same four files for demo-fapi2-dpop (P-256, ES256: client
                                  assertions, request objects) and demo-fapi2-mtls (P-256; its
                                  certificate authenticates it and binds its tokens).

        Clients
        -------
        demo-fapi-1   private_key_jwt (PS256), certificate-bound tokens: present client1.pem on the
                      mutual-TLS alias https://localhost:\(options.mtlsPort) (token, PAR, userinfo).
                      Scopes: openid profile email accounts payments offline_access.
        demo-fapi-2   tls_client_auth with client2.pem on the mutual-TLS alias (ES256 for request
                      objects, ID tokens, JARM). Same scopes.
        demo-fapi2-dpop
                      FAPI 2.0: private_key_jwt (ES256, client3.jwks.json), DPoP-bound tokens
                      (dpop_bound_access_tokens: every token request carries a DPoP proof by a key
                      of the client's choosing). Scopes: openid profile email fapi2-accounts
                      fapi2-payments offline_access. Works on the main listener.
        demo-fapi2-mtls
                      FAPI 2.0: tls_client_auth with client4.pem on the mutual-TLS alias,
                      certificate-bound tokens. Same scopes.
        demo-plain    client_secret_basic (secret in strongroom.yaml), plain OAuth 2.0 / OpenID
                      Connect; redirect URIs \(issuer)/demo/callback and http://localhost:9000/callback.
                      Scopes: openid profile email offline_access.

        The main listener \(issuer) does not ask for a client certificate (browsers are not
        prompted on the login pages): send everything that needs one - the token, PAR, userinfo,
        introspection and revocation requests of certificate clients, and calls to the resource API
        /api/accounts and /api/payments with certificate-bound tokens - to the alias
        https://localhost:\(options.mtlsPort) (mtls_endpoint_aliases in discovery).

        Scopes `accounts` (fapi=r) and `payments` (fapi=rw) select FAPI 1.0 Baseline and FAPI 1.0
        Advanced per request; `fapi2-accounts` (fapi2=sp) the FAPI 2.0 Security Profile and
        `fapi2-payments` (fapi2=ms) FAPI 2.0 Message Signing (signed request object through PAR,
        JARM response). The FAPI clients also list the OpenID Foundation conformance suite's
        redirect URI \(conformanceSuiteRedirectURI).

        User: \(demoUsername) / \(demoPassword)

        """
    }
}
