import Foundation
import Logging
import Testing
@testable import StrongroomCore
@testable import StrongroomEngine
@testable import StrongroomJOSE
@testable import StrongroomStorage

/// What one node changes, every other node sharing the database honours at once: clients changed or
/// deleted on node A. SQLite (an on-disk file both nodes open) always; PostgreSQL when
/// `STRONGROOM_TEST_POSTGRES_URL` is set.
@Suite("Clients across two nodes on one database")
struct EngineMultiNodeClientTests {
    static let secret = "multi-node-secret-0123456789-0123456789"

    /// A client_secret_basic client for client_credentials, registered through node A.
    static func register(on node: Engine, scope: String = "profile email") async throws -> String {
        let id = uniqueID("mn-client")
        let metadata = ClientMetadata(redirectURIs: [], tokenEndpointAuthMethod: .clientSecretBasic, grantTypes: [.clientCredentials],
                                      responseTypes: [], scope: scope)
        _ = try await node.clients.register(metadata, clientID: id, clientSecret: secret, source: "admin")
        return id
    }

    static func clientCredentials(_ node: Engine, _ clientID: String, scope: String) async -> EngineResponse {
        let basic = "Basic " + Data("\(clientID):\(secret)".utf8).base64EncodedString()
        return await node.token(EngineHarness.post("/token", [("grant_type", "client_credentials"), ("scope", scope)],
                                                   headers: [("authorization", basic)]))
    }

    static func text(_ r: EngineResponse) -> String { String(decoding: r.body, as: UTF8.self) }

    @Test("a client deleted through node A is refused by node B at once", arguments: IsolatedDatabase.reopenable)
    func deletedOnAIsRefusedOnB(backend: StorageBackend) async throws {
        try await withTwoNodes(backend) { nodes in
            let id = try await Self.register(on: nodes.a)
            let before = await Self.clientCredentials(nodes.b, id, scope: "email")
            #expect(before.status == 200, "node B before the deletion: \(Self.text(before))")
            let token = try #require(JSONValue.from(before)["access_token"]?.stringValue)

            #expect(try await nodes.a.clients.remove(clientID: id))
            let after = await Self.clientCredentials(nodes.b, id, scope: "email")
            #expect(after.status == 401, "node B after the deletion on A: \(Self.text(after))")
            #expect(JSONValue.from(after)["error"]?.stringValue == "invalid_client")
            // RFC 7592 §2.3: the deleted client's tokens stop working on every node too.
            await #expect(throws: OAuthError.self) { _ = try await nodes.b.accessTokens.validate(token, request: EngineHarness.get("/userinfo", [])) }
        }
    }

    @Test("a scope removed through node A is refused by node B at once", arguments: IsolatedDatabase.reopenable)
    func changedOnAIsHonouredOnB(backend: StorageBackend) async throws {
        try await withTwoNodes(backend) { nodes in
            let id = try await Self.register(on: nodes.a)
            let before = await Self.clientCredentials(nodes.b, id, scope: "email")
            #expect(before.status == 200, "node B before the change: \(Self.text(before))")

            var metadata = try #require(try await nodes.a.clients.get(id)).metadata
            metadata.scope = "profile"
            _ = try await nodes.a.clients.update(clientID: id, metadata: metadata)
            let refused = await Self.clientCredentials(nodes.b, id, scope: "email")
            #expect(refused.status == 400, "node B after the change on A: \(Self.text(refused))")
            #expect(JSONValue.from(refused)["error"]?.stringValue == "invalid_scope")
            let kept = await Self.clientCredentials(nodes.b, id, scope: "profile")
            #expect(kept.status == 200, "the scope the client kept, at node B: \(Self.text(kept))")
        }
    }
}

/// Signing keys on several nodes sharing one database: created once however many nodes start
/// together, and changed by one rotation at a time.
@Suite("Signing keys across nodes on one database")
struct EngineMultiNodeKeyTests {
    static let logger: Logger = {
        var logger = Logger(label: "test.keys")
        logger.logLevel = .critical
        return logger
    }()

    /// `count` storages ("nodes") on one fresh database, closed (and the database removed) afterwards.
    static func withNodes(_ backend: StorageBackend, count: Int, _ body: ([SQLStorage]) async throws -> Void) async throws {
        try await withIsolatedDatabase(backend, prefix: "keys") { database in
            var storages: [SQLStorage] = []
            do {
                for _ in 0..<count { storages.append(try await database.open(nil, poolSize: 2)) }
                try await body(storages)
            } catch {
                for s in storages { try? await s.shutdown() }
                throw error
            }
            for s in storages { try await s.shutdown() }
        }
    }

    static func record(_ kid: String, _ status: SigningKeyRecord.Status = .next) -> SigningKeyRecord {
        SigningKeyRecord(kid: kid, algorithm: .es256, privateKeyPEM: "test material, never parsed", publicJWK: .object(["kty": "EC"]),
                         status: status, createdAt: Date())
    }

    @Test("changeKeys from several connections at once: each decision sees the keys the previous ones wrote",
          arguments: IsolatedDatabase.reopenable)
    func changeKeysDecisionsAreSerialised(backend: StorageBackend) async throws {
        try await Self.withNodes(backend, count: 2) { nodes in
            // Each call adds the key named after how many it finds: two decisions taken on the same
            // keys would pick the same name (a duplicate) and lose one of the ten.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<10 {
                    let node = nodes[i % 2]
                    group.addTask { _ = try await node.changeKeys { keys in [.add(Self.record("k\(keys.count)"))] } }
                }
                try await group.waitForAll()
            }
            #expect(Set(try await nodes[0].keys().map(\.kid)) == Set((0..<10).map { "k\($0)" }))
        }
    }

    @Test("a decision that throws changes nothing", arguments: IsolatedDatabase.reopenable)
    func aThrowingDecisionChangesNothing(backend: StorageBackend) async throws {
        try await Self.withNodes(backend, count: 1) { nodes in
            struct Refused: Error {}
            try await nodes[0].saveKey(Self.record("kept", .active))
            await #expect(throws: Refused.self) {
                _ = try await nodes[0].changeKeys { _ in throw Refused() }
            }
            await #expect(throws: StorageError.notFound("signing key missing")) {
                _ = try await nodes[0].changeKeys { _ in [.add(Self.record("added")), .setStatus(kid: "missing", .retired, at: Date())] }
            }
            #expect(try await nodes[0].keys().map(\.kid) == ["kept"])
        }
    }

    @Test("three nodes starting together on an empty database create one key set and all sign with it",
          arguments: IsolatedDatabase.reopenable)
    func nodesStartingTogetherCreateOneKeySet(backend: StorageBackend) async throws {
        try await Self.withNodes(backend, count: 3) { nodes in
            let managers = try await withThrowingTaskGroup(of: KeyManager.self) { group in
                for node in nodes { group.addTask { try await KeyManager.load(storage: node, clock: SystemTime(), logger: Self.logger) } }
                var out: [KeyManager] = []
                for try await m in group { out.append(m) }
                return out
            }
            let keys = try await nodes[0].keys()
            #expect(keys.count == 2, "\(keys.map { "\($0.algorithm.rawValue) \($0.kid) \($0.status)" })")
            for alg in KeyManager.algorithms {
                let active = keys.filter { $0.algorithm == alg && $0.status == .active }
                #expect(active.count == 1, "\(alg.rawValue): \(active.map(\.kid))")
                for m in managers {
                    #expect(m.signer(for: alg)?.kid == active.first?.kid)
                    #expect(m.ring.publicKeySet.keys.compactMap(\.kid).sorted() == keys.map(\.kid).sorted())
                }
            }
        }
    }

    @Test("two rotations at once never stage two key sets", arguments: IsolatedDatabase.reopenable)
    func concurrentRotationsStageOneSet(backend: StorageBackend) async throws {
        try await Self.withNodes(backend, count: 2) { nodes in
            let a = try await KeyManager.load(storage: nodes[0], clock: SystemTime(), logger: Self.logger)
            let b = try await KeyManager.load(storage: nodes[1], clock: SystemTime(), logger: Self.logger)
            let failures = await withTaskGroup(of: (any Error)?.self) { group in
                for m in [a, b] {
                    group.addTask {
                        do { _ = try await m.rotate() } catch { return error }
                        return nil
                    }
                }
                var out: [any Error] = []
                for await case let error? in group { out.append(error) }
                return out
            }
            // The one that lost either found the keys changed under it or (had it looked after the
            // other's stage) was refused promoting them so soon.
            #expect(failures.count <= 1)
            for error in failures { #expect(error is KeyRotationRefused, "\(error)") }
            let keys = try await nodes[0].keys()
            for alg in KeyManager.algorithms {
                #expect(keys.filter { $0.algorithm == alg && $0.status == .next }.count <= 1, "\(alg.rawValue)")
                #expect(keys.filter { $0.algorithm == alg && $0.status == .active }.count == 1, "\(alg.rawValue)")
            }
        }
    }
}

/// Clients and users of the configuration file, seeded by every node at start: a node that finds
/// one created by another node between its read and its create refreshes it instead of failing.
@Suite("Seeding across nodes on one database")
struct EngineMultiNodeSeedTests {
    /// A store whose first read of each client or user answers "absent": what a node sees when
    /// another node creates it just after this one looked.
    final class LateStore: ClientStore, UserStore, @unchecked Sendable {
        let base: SQLStorage
        private let lock = NSLock()
        private var looked: Set<String> = []
        init(_ base: SQLStorage) { self.base = base }

        private func firstLook(_ key: String) -> Bool { lock.withLock { looked.insert(key).inserted } }

        func createClient(_ client: Client) async throws { try await base.createClient(client) }
        func client(id: String) async throws -> Client? { firstLook("client " + id) ? nil : try await base.client(id: id) }
        func clients() async throws -> [Client] { try await base.clients() }
        func updateClient(_ client: Client) async throws { try await base.updateClient(client) }
        func deleteClient(id: String) async throws -> Bool { try await base.deleteClient(id: id) }

        func createUser(_ user: User) async throws { try await base.createUser(user) }
        func user(username: String) async throws -> User? { firstLook("user " + username) ? nil : try await base.user(username: username) }
        func user(subject: String) async throws -> User? { try await base.user(subject: subject) }
        func users() async throws -> [User] { try await base.users() }
        func updateUser(_ user: User) async throws { try await base.updateUser(user) }
        func deleteUser(username: String) async throws -> Bool { try await base.deleteUser(username: username) }
    }

    static let hasher = SecretHasher(key: Data(repeating: 7, count: 32))
    static let created = Date(timeIntervalSince1970: 1_700_000_000)

    @Test("a configured client another node created after this one looked is refreshed, not a failed start",
          arguments: StorageBackend.enabled)
    func clientCreatedMeanwhileIsRefreshed(backend: StorageBackend) async throws {
        try await withStorage(backend) { storage, _ in
            let id = uniqueID("seeded")
            try await storage.createClient(Client(clientID: id, metadata: ClientMetadata(clientName: "older", scope: "openid"),
                                                  source: "config", createdAt: Self.created, updatedAt: Self.created))
            let registry = ClientRegistry(storage: LateStore(storage), service: ServiceSettings(issuer: "https://as.test"),
                                          hasher: Self.hasher, random: SystemRandom(), clock: SystemTime())
            let metadata = ClientMetadata(clientName: "as configured", redirectURIs: ["https://rp.test/cb"], tokenEndpointAuthMethod: .none,
                                          scope: "openid profile")
            try await registry.upsertSeed(SeedClient(clientID: id, metadata: metadata))
            let stored = try #require(try await storage.client(id: id))
            #expect(stored.metadata == metadata)
            #expect(stored.createdAt == Self.created)
        }
    }

    @Test("a configured user another node created after this one looked is refreshed, not a failed start",
          arguments: StorageBackend.enabled)
    func userCreatedMeanwhileIsRefreshed(backend: StorageBackend) async throws {
        try await withStorage(backend) { storage, _ in
            let username = uniqueID("seeded-user")
            let subject = "u-" + Base64URL.encode(Array(username.utf8))
            try await storage.createUser(User(subject: subject, username: username, passwordHash: "$2b$04$older", claims: ["name": "Older"],
                                              createdAt: Self.created))
            let directory = UserDirectory(storage: LateStore(storage), random: SystemRandom(), clock: SystemTime())
            try await directory.upsertSeed(SeedUser(username: username, passwordHash: "$2b$04$configured", claims: ["name": "Configured"]))
            let stored = try #require(try await storage.user(username: username))
            #expect(stored.subject == subject)
            #expect(stored.passwordHash == "$2b$04$configured")
            #expect(stored.claims == ["name": "Configured"])
        }
    }

    @Test("two engines starting together on an empty database both start, with one row per configured client and user",
          arguments: IsolatedDatabase.reopenable)
    func enginesStartingTogetherBothStart(backend: StorageBackend) async throws {
        try await withIsolatedDatabase(backend, prefix: "seeds") { database in
            var config = TwoNodes.configuration(clientKey: try ServerSigningKey.generate(.es256), nonces: false)
            let hash = PasswordHasher.hash("seeded-user-password", cost: 4)
            for i in 0..<20 {
                config.clients.append(SeedClient(clientID: "seed-\(i)", metadata: ClientMetadata(
                    redirectURIs: ["https://rp.test/cb"], tokenEndpointAuthMethod: .none, scope: "openid")))
                config.users.append(SeedUser(username: "user-\(i)", passwordHash: hash))
            }
            var logger = Logger(label: "test.seeds")
            logger.logLevel = .critical
            let storages = [try await database.open(nil, poolSize: 2), try await database.open(nil, poolSize: 2)]
            let results = await withTaskGroup(of: (any Error)?.self) { group in
                for storage in storages {
                    group.addTask { [config, logger] in
                        do {
                            let engine = try await Engine.start(configuration: config, storage: storage, logger: logger)
                            await engine.shutdown()
                            return nil
                        } catch { return error }
                    }
                }
                var out: [any Error] = []
                for await case let error? in group { out.append(error) }
                return out
            }
            #expect(results.isEmpty, "\(results)")
            #expect(try await storages[0].clients().map(\.clientID).sorted() == config.clients.map(\.clientID).sorted())
            #expect(try await storages[0].users().map(\.username).sorted() == config.users.map(\.username).sorted())
            for s in storages { try await s.shutdown() }
        }
    }
}
