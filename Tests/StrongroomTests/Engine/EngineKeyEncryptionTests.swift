import Crypto
import Foundation
import Logging
import Testing
@testable import StrongroomCore
@testable import StrongroomEngine
@testable import StrongroomJOSE
@testable import StrongroomStorage

/// The engine over storage whose secrets are encrypted at rest: signing keys and client_secret_jwt
/// clients survive re-keying, a wrong key stops the start, and a client that leaves a
/// shared-secret method loses its secret. Keys and secrets are generated per run: test material.
@Suite("Engine key encryption")
struct EngineKeyEncryptionTests {
    static let issuer = "https://as.test"

    static var configuration: StrongroomConfiguration {
        StrongroomConfiguration(
            service: ServiceSettings(issuer: issuer),
            server: ServerSettings(tlsCertificate: "unused", tlsPrivateKey: "unused"),
            database: DatabaseSettings(url: "sqlite::memory:"),
            admin: AdminSettings(token: "test-admin-token"),
            secretHashKey: Data(repeating: 9, count: 32).base64EncodedString())
    }

    static let logger: Logger = {
        var logger = Logger(label: "test.key-encryption")
        logger.logLevel = .critical
        return logger
    }()

    static func start(_ storage: SQLStorage) async throws -> Engine {
        try await Engine.start(configuration: configuration, storage: storage, logger: logger)
    }

    static var hmacMetadata: ClientMetadata {
        ClientMetadata(tokenEndpointAuthMethod: .clientSecretJWT, tokenEndpointAuthSigningAlg: .hs256,
                       grantTypes: [.clientCredentials], responseTypes: [], scope: "profile")
    }

    /// An HS256 client assertion (RFC 7523) for `clientID`, keyed with `secret`.
    static func hmacAssertion(clientID: String, secret: String) throws -> String {
        let now = Int(Date().timeIntervalSince1970)
        let header = Base64URL.encode(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
        let claims: [String: JSONValue] = [
            "iss": .string(clientID), "sub": .string(clientID), "aud": .string(issuer + "/token"),
            "iat": .number(Double(now)), "exp": .number(Double(now + 60)), "jti": .string(UUID().uuidString),
        ]
        let payload = Base64URL.encode(Array(JSONValue.object(claims).serialized()))
        let input = header + "." + payload
        let mac = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return input + "." + Base64URL.encode(Array(mac))
    }

    /// The status of a client_credentials token request authenticated by an HS256 assertion.
    static func tokenStatus(_ engine: Engine, clientID: String, secret: String) async throws -> Int {
        let form = [
            ("grant_type", "client_credentials"), ("scope", "profile"),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", try hmacAssertion(clientID: clientID, secret: secret)),
        ]
        let request = TransportRequest(
            method: "POST", path: "/token", headers: [Param("content-type", "application/x-www-form-urlencoded")],
            body: Data(FormCoding.encode(form.map { Param($0.0, $0.1) }).utf8))
        return await engine.token(request).status
    }

    @Test("after rekey the server signs with the same keys (same kid) and the client_secret_jwt client still authenticates",
          arguments: IsolatedDatabase.reopenable)
    func rekeyKeepsKeysAndClients(backend: StorageBackend) async throws {
        try await withIsolatedDatabase(backend, prefix: "sealed") { db in
            let old = KeyEncryptionKey.generate(), new = KeyEncryptionKey.generate()

            let first = try await db.open(KeyEncryptionKeyRing(current: old))
            let engine1 = try await Self.start(first)
            let registered = try await engine1.clients.register(Self.hmacMetadata, source: "test")
            let secret = try #require(registered.clientSecret)
            let clientID = registered.client.clientID
            #expect(try await Self.tokenStatus(engine1, clientID: clientID, secret: secret) == 200)
            let kidsBefore = try await engine1.keys.list().map(\.kid)
            let signer1 = try #require(engine1.keys.signer(for: .ps256))
            let signedBefore = try signer1.sign(payload: ["iss": .string(Self.issuer), "n": "before"])
            let publishedBefore = engine1.keys.ring.publicKeySet
            await engine1.shutdown()
            try await first.shutdown()

            let both = try await db.open(KeyEncryptionKeyRing(current: new, previous: [old]))
            let summary = try await both.resealSecrets()
            #expect(summary.resealed == kidsBefore.count + 1 && summary.unchanged == 0)
            #expect(try await both.resealSecrets().resealed == 0)
            try await both.shutdown()

            // Only the new key from here on.
            let storage = try await db.open(KeyEncryptionKeyRing(current: new))
            #expect(try await storage.sealedSecretsReport().byKeyID == [new.id: kidsBefore.count + 1])
            let engine = try await Self.start(storage)
            #expect(try await engine.keys.list().map(\.kid) == kidsBefore)
            let signer = try #require(engine.keys.signer(for: .ps256))
            #expect(signer.kid == signer1.kid)
            let policy = VerificationPolicy(allowedAlgorithms: [.ps256, .es256])
            // What was signed before verifies with the keys published now, and the other way round.
            _ = try JWSVerifier.verify(try UnverifiedJWS(compact: signedBefore), keys: engine.keys.ring.publicKeySet, policy: policy)
            let signedAfter = try signer.sign(payload: ["iss": .string(Self.issuer), "n": "after"])
            _ = try JWSVerifier.verify(try UnverifiedJWS(compact: signedAfter), keys: publishedBefore, policy: policy)
            #expect(try await Self.tokenStatus(engine, clientID: clientID, secret: secret) == 200)
            #expect(try await Self.tokenStatus(engine, clientID: clientID, secret: secret + "x") == 401)
            await engine.shutdown()
            try await storage.shutdown()

            // The old key alone: the engine does not start, with an error naming the key.
            let stale = try await db.open(KeyEncryptionKeyRing(current: old))
            do {
                _ = try await Self.start(stale)
                Issue.record("the engine started under a key that opens none of its secrets")
            } catch let error as SealingError {
                #expect(error.description.contains(new.id))
            }
            try await stale.shutdown()
        }
    }

    @Test("a client that leaves client_secret_jwt loses its secret for good", arguments: ["registry", "admin API"])
    func methodChangeDropsSecret(path: String) async throws {
        let storage = try await SQLStorage.open(url: "sqlite::memory:", sealer: KeyEncryptionKeyRing(current: .generate()), logger: Self.logger)
        try await storage.migrate()
        let engine = try await Self.start(storage)
        let registered = try await engine.clients.register(Self.hmacMetadata, source: "test")
        let secret = try #require(registered.clientSecret)
        let id = registered.client.clientID
        #expect(try await Self.tokenStatus(engine, clientID: id, secret: secret) == 200)
        #expect(try await storage.rawSealedValue(.clientSecret, rowID: id) != nil)

        var keyBased = Self.hmacMetadata
        keyBased.tokenEndpointAuthMethod = .privateKeyJWT
        keyBased.tokenEndpointAuthSigningAlg = .ps256
        keyBased.jwks = JWKSet(keys: [try ServerSigningKey.generate(.ps256).publicJWK]).json
        try await update(engine, id: id, keyBased, via: path, expectStatus: 200)

        let stored = try #require(try await storage.client(id: id))
        #expect(stored.secretHash == nil && stored.secretForHMAC == nil && stored.secretExpiresAt == nil)
        #expect(try await storage.rawSealedValue(.clientSecret, rowID: id) == nil)
        #expect(try await Self.tokenStatus(engine, clientID: id, secret: secret) == 401)

        // Switching back is refused: the old secret is gone and never authenticates again.
        try await update(engine, id: id, Self.hmacMetadata, via: path, expectStatus: 400)
        #expect(try await storage.client(id: id)?.metadata.tokenEndpointAuthMethod == .privateKeyJWT)
        #expect(try await Self.tokenStatus(engine, clientID: id, secret: secret) == 401)
        await engine.shutdown()
        try await storage.shutdown()
    }

    @Test("client_secret_jwt to client_secret_basic keeps only the hash; the way back is refused")
    func sharedSecretMethods() async throws {
        let storage = try await SQLStorage.open(url: "sqlite::memory:", sealer: KeyEncryptionKeyRing(current: .generate()), logger: Self.logger)
        try await storage.migrate()
        let engine = try await Self.start(storage)
        let registered = try await engine.clients.register(Self.hmacMetadata, source: "test")
        let id = registered.client.clientID
        var basic = Self.hmacMetadata
        basic.tokenEndpointAuthMethod = .clientSecretBasic
        basic.tokenEndpointAuthSigningAlg = nil
        let updated = try await engine.clients.update(clientID: id, metadata: basic)
        #expect(updated.secretHash != nil && updated.secretForHMAC == nil)
        #expect(try await storage.rawSealedValue(.clientSecret, rowID: id) == nil)
        await #expect(throws: RegistrationRefused.self) { _ = try await engine.clients.update(clientID: id, metadata: Self.hmacMetadata) }
        await engine.shutdown()
        try await storage.shutdown()
    }

    func update(_ engine: Engine, id: String, _ metadata: ClientMetadata, via path: String, expectStatus: Int) async throws {
        if path == "registry" {
            if expectStatus == 200 {
                _ = try await engine.clients.update(clientID: id, metadata: metadata)
            } else {
                await #expect(throws: RegistrationRefused.self) { _ = try await engine.clients.update(clientID: id, metadata: metadata) }
            }
            return
        }
        let body = String(decoding: try JSONEncoder().encode(metadata), as: UTF8.self)
        let request = TransportRequest(
            method: "PUT", path: "/admin/clients/\(id)",
            headers: [Param("authorization", "Bearer test-admin-token"), Param("content-type", "application/json")],
            body: Data(body.utf8))
        let response = await engine.admin(request)
        #expect(response.status == expectStatus, "\(response.body)")
    }
}
