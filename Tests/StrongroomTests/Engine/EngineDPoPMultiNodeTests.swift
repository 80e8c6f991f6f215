import Crypto
import Foundation
import Logging
import Testing
@testable import StrongroomCore
@testable import StrongroomEngine
@testable import StrongroomJOSE
@testable import StrongroomStorage

/// Two engines ("nodes") with the same configuration (so the same `secret_hash_key`, which the
/// stateless DPoP nonces are keyed with) over one shared database, each with its own storage
/// connections and its own clock set to the same instant. One FAPI 2.0 client (`fapi2`,
/// private_key_jwt ES256, scope `fapi2-accounts`) asks for DPoP-bound tokens with
/// client_credentials. Keys are generated per run: test material only.
struct TwoNodes {
    static let issuer = "https://as.test"
    static let tokenURL = issuer + "/token"
    static let scope = "fapi2-accounts"
    static let client = "fapi2"

    let a: Engine
    let b: Engine
    let clockA: FixedTime
    let clockB: FixedTime
    let clientKey: ServerSigningKey
    /// The DPoP key of the client (not its authentication key).
    let dpopKey: ServerSigningKey
    let database: IsolatedDatabase

    static func configuration(clientKey: ServerSigningKey, nonces: Bool) -> StrongroomConfiguration {
        var service = ServiceSettings(issuer: issuer)
        service.scopes.append(ScopeDefinition(name: scope, description: "FAPI 2.0 accounts",
                                              attributes: [ScopeAttribute(key: "fapi2", value: "sp")]))
        service.dpopNonceRequired = nonces
        let metadata = ClientMetadata(redirectURIs: ["https://rp.test/cb"], tokenEndpointAuthMethod: .privateKeyJWT,
                                      tokenEndpointAuthSigningAlg: .es256, grantTypes: [.authorizationCode, .clientCredentials],
                                      responseTypes: [.code], scope: "openid \(scope)", jwks: JWKSet(keys: [clientKey.publicJWK]).json,
                                      requestObjectSigningAlg: .es256, idTokenSignedResponseAlg: .es256)
        return StrongroomConfiguration(
            service: service, server: ServerSettings(tlsCertificate: "unused", tlsPrivateKey: "unused"),
            database: DatabaseSettings(url: "unused: each node is given its storage"),
            secretHashKey: Data(repeating: 7, count: 32).base64EncodedString(),
            clients: [SeedClient(clientID: client, metadata: metadata)])
    }

    /// Starts node A, then node B (which finds A's signing keys and re-seeds the same client).
    static func start(_ backend: StorageBackend, nonces: Bool = false) async throws -> TwoNodes {
        let database = try await IsolatedDatabase.make(backend, prefix: "nodes")
        var storages: [SQLStorage] = []
        do {
            let clientKey = try ServerSigningKey.generate(.es256)
            let config = configuration(clientKey: clientKey, nonces: nonces)
            var logger = Logger(label: "test.nodes")
            logger.logLevel = .critical
            let now = Date()
            let clockA = FixedTime(now), clockB = FixedTime(now)
            storages.append(try await database.open(nil, poolSize: 4))
            let a = try await Engine.start(configuration: config, storage: storages[0], logger: logger, clock: clockA)
            storages.append(try await database.open(nil, poolSize: 4))
            let b = try await Engine.start(configuration: config, storage: storages[1], logger: logger, clock: clockB)
            return TwoNodes(a: a, b: b, clockA: clockA, clockB: clockB, clientKey: clientKey,
                            dpopKey: try ServerSigningKey.generate(.es256), database: database)
        } catch {
            for s in storages { try? await s.shutdown() }
            await database.cleanup()
            throw error
        }
    }

    func close() async {
        for node in [a, b] {
            await node.shutdown()
            try? await node.storage.shutdown()
        }
        await database.cleanup()
    }

    /// A DPoP proof for POST /token by `dpopKey` (as `EngineDPoPTests.proof` builds them).
    func proof(nonce: String? = nil, jti: String = UUID().uuidString) throws -> String {
        var claims: [String: JSONValue] = ["jti": .string(jti), "htm": "POST", "htu": .string(Self.tokenURL),
                                           "iat": .number(clockA.now().timeIntervalSince1970.rounded(.down))]
        if let nonce { claims["nonce"] = .string(nonce) }
        return try JOSEFixtures.compact(dpopKey, header: ["typ": "dpop+jwt", "alg": .string(dpopKey.algorithm.rawValue),
                                                         "jwk": try JOSEFixtures.bareJWK(dpopKey).json], payload: claims)
    }

    /// A client_credentials request of `fapi2` with a fresh client assertion (audience: the
    /// issuer, as FAPI 2.0 demands) and the given proof.
    func tokenRequest(proof: String?) throws -> TransportRequest {
        let now = Int(clockA.now().timeIntervalSince1970)
        let assertion = try clientKey.sign(payload: [
            "iss": .string(Self.client), "sub": .string(Self.client), "aud": .string(Self.issuer),
            "exp": .number(Double(now + 60)), "iat": .number(Double(now)), "jti": .string(UUID().uuidString),
        ])
        var headers: [(String, String)] = []
        if let proof { headers.append(("dpop", proof)) }
        return EngineHarness.post("/token", [
            ("grant_type", "client_credentials"), ("scope", Self.scope),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", assertion),
        ], headers: headers)
    }
}

/// Runs `body` with two started nodes, closing them (and removing the database) even if it throws.
func withTwoNodes(_ backend: StorageBackend, nonces: Bool = false, _ body: (TwoNodes) async throws -> Void) async throws {
    let nodes = try await TwoNodes.start(backend, nonces: nonces)
    do {
        try await body(nodes)
    } catch {
        await nodes.close()
        throw error
    }
    await nodes.close()
}

/// DPoP state that must hold across nodes sharing one database (RFC 9449 §11.1 replay, §8 server
/// nonces): a proof's `jti` is single-use on every node, a nonce from one node is good on every
/// other, and of many concurrent requests on several nodes carrying one proof exactly one wins.
/// SQLite (an on-disk file both nodes open) always; PostgreSQL when `STRONGROOM_TEST_POSTGRES_URL`
/// is set.
@Suite("DPoP across two nodes on one database")
struct EngineDPoPMultiNodeTests {
    static let replayDescription = "the DPoP proof has been used before (jti replay)"

    static func error(_ r: EngineResponse) -> (code: String?, description: String?) {
        let body = JSONValue.from(r)
        return (body["error"]?.stringValue, body["error_description"]?.stringValue)
    }

    /// A jti spent on one node is refused on the other, whichever node saw it first.
    @Test("a proof's jti accepted by one node is refused by the other", arguments: IsolatedDatabase.reopenable, [true, false])
    func jtiReplayIsRefusedOnTheOtherNode(backend: StorageBackend, aFirst: Bool) async throws {
        try await withTwoNodes(backend) { nodes in
            let (first, second) = aFirst ? (nodes.a, nodes.b) : (nodes.b, nodes.a)
            let proof = try nodes.proof()
            let accepted = await first.token(try nodes.tokenRequest(proof: proof))
            #expect(accepted.status == 200, "first node: \(String(decoding: accepted.body, as: UTF8.self))")
            #expect(JSONValue.from(accepted)["token_type"]?.stringValue == "DPoP")

            let replayed = await second.token(try nodes.tokenRequest(proof: proof))
            #expect(replayed.status == 400, "second node: \(String(decoding: replayed.body, as: UTF8.self))")
            #expect(Self.error(replayed).code == "invalid_dpop_proof")
            #expect(Self.error(replayed).description == Self.replayDescription)
        }
    }

    @Test("a server nonce issued by node A is accepted by node B", arguments: IsolatedDatabase.reopenable)
    func nonceFromNodeAIsGoodOnNodeB(backend: StorageBackend) async throws {
        try await withTwoNodes(backend, nonces: true) { nodes in
            let challenged = await nodes.a.token(try nodes.tokenRequest(proof: try nodes.proof()))
            #expect(challenged.status == 400)
            #expect(Self.error(challenged).code == "use_dpop_nonce")
            let nonce = try #require(challenged.header("DPoP-Nonce"), "node A's use_dpop_nonce answer has no DPoP-Nonce header")

            let accepted = await nodes.b.token(try nodes.tokenRequest(proof: try nodes.proof(nonce: nonce)))
            #expect(accepted.status == 200, "node B: \(String(decoding: accepted.body, as: UTF8.self))")
            #expect(JSONValue.from(accepted)["token_type"]?.stringValue == "DPoP")
        }
    }

    @Test("node B refuses a nonce that no node issued", arguments: IsolatedDatabase.reopenable)
    func aNonceNoNodeIssuedIsRefusedOnNodeB(backend: StorageBackend) async throws {
        try await withTwoNodes(backend, nonces: true) { nodes in
            let refused = await nodes.b.token(try nodes.tokenRequest(proof: try nodes.proof(nonce: "not-a-nonce-of-any-node")))
            #expect(refused.status == 400)
            #expect(Self.error(refused).code == "use_dpop_nonce")
            #expect(Self.error(refused).description == "the DPoP nonce is not current")
            #expect(refused.header("DPoP-Nonce") != nil)
        }
    }

    @Test("20 concurrent token requests on two nodes with one proof: exactly one 200", arguments: IsolatedDatabase.reopenable)
    func concurrentRequestsWithOneProofHaveOneWinner(backend: StorageBackend) async throws {
        try await withTwoNodes(backend) { nodes in
            let proof = try nodes.proof()
            // Every request has its own client assertion: only the proof is shared.
            let requests = try (0..<20).map { i in (node: i % 2 == 0 ? nodes.a : nodes.b, request: try nodes.tokenRequest(proof: proof)) }
            let responses = await withTaskGroup(of: (Int, EngineResponse).self) { group in
                for (i, r) in requests.enumerated() {
                    group.addTask { (i, await r.node.token(r.request)) }
                }
                var out: [(Int, EngineResponse)] = []
                for await r in group { out.append(r) }
                return out
            }
            #expect(responses.count == 20)
            let ok = responses.filter { $0.1.status == 200 }
            let refused = responses.filter { $0.1.status == 400 }
            #expect(ok.count == 1, "200s: \(ok.map(\.0))")
            #expect(refused.count == 19)
            for (i, r) in refused {
                #expect(Self.error(r).code == "invalid_dpop_proof", "request \(i) on node \(i % 2 == 0 ? "A" : "B")")
                #expect(Self.error(r).description == Self.replayDescription, "request \(i)")
            }
            let other = responses.filter { $0.1.status != 200 && $0.1.status != 400 }
            #expect(other.isEmpty, "\(other.map { "\($0.0): \($0.1.status) \(String(decoding: $0.1.body, as: UTF8.self))" })")
            // Both nodes took part: 10 requests each.
            #expect(requests.filter { $0.node === nodes.a }.count == 10)
        }
    }
}
