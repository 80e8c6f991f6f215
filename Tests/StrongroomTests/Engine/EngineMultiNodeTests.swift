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

            var metadata = try #require(try await nodes.a.clients.lookup(id)).metadata
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

    /// What a retired key's signatures must outlive here (the engine's defaults: the ID token's and
    /// the JARM response's 600 seconds).
    static let longestSignedLifetime: TimeInterval = 600

    static func load(_ storage: SQLStorage, clock: any TimeSource = SystemTime()) async throws -> KeyManager {
        try await KeyManager.load(storage: storage, clock: clock, logger: logger, longestSignedLifetime: longestSignedLifetime)
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
                for node in nodes { group.addTask { try await Self.load(node) } }
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
            let a = try await Self.load(nodes[0])
            let b = try await Self.load(nodes[1])
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
            #expect(failures.count == 1)
            for error in failures { #expect(error is KeyRotationRefused, "\(error)") }
            let keys = try await nodes[0].keys()
            for alg in KeyManager.algorithms {
                #expect(keys.filter { $0.algorithm == alg && $0.status == .next }.count == 1, "\(alg.rawValue)")
                #expect(keys.filter { $0.algorithm == alg && $0.status == .active }.count == 1, "\(alg.rawValue)")
            }
        }
    }

    /// Whether `compact` verifies with the keys `manager` publishes now.
    static func verifies(_ compact: String, with manager: KeyManager) -> Bool {
        let policy = VerificationPolicy(allowedAlgorithms: [.ps256, .es256])
        return (try? JWSVerifier.verify(try UnverifiedJWS(compact: compact), keys: manager.ring.publicKeySet, policy: policy)) != nil
    }

    static func published(_ manager: KeyManager) -> Set<String> { Set(manager.ring.publicKeySet.keys.compactMap(\.kid)) }

    @Test("a whole rotation on node A: every signature of either node verifies with both nodes' keys at every step",
          arguments: IsolatedDatabase.reopenable)
    func rotationKeepsEverySignatureVerifiable(backend: StorageBackend) async throws {
        try await Self.withNodes(backend, count: 2) { nodes in
            // Whole seconds: times round-trip through the database's milliseconds unchanged.
            let start = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
            let clockA = FixedTime(start), clockB = FixedTime(start)
            let a = try await Self.load(nodes[0], clock: clockA)
            let b = try await Self.load(nodes[1], clock: clockB)
            let old = try #require(a.signer(for: .es256)).kid
            var signed: [String] = []
            /// Both nodes sign; everything either node signed so far verifies with both nodes' keys.
            func step(_ what: String, signers: (a: String, b: String)) throws {
                for (name, node, kid) in [("A", a, signers.a), ("B", b, signers.b)] {
                    let signer = try #require(node.signer(for: .es256))
                    #expect(signer.kid == kid, "\(what): node \(name) signs with \(signer.kid)")
                    signed.append(try signer.sign(payload: ["step": .string(what), "node": .string(name)]))
                }
                for token in signed {
                    #expect(Self.verifies(token, with: a) && Self.verifies(token, with: b), "\(what): \(token.prefix(40))…")
                }
            }
            func advance(_ seconds: TimeInterval) {
                clockA.advance(seconds)
                clockB.advance(seconds)
            }

            // Stage on A: published by A at once, by B from its next reload; nothing signs with it.
            let staged = try #require(try await a.rotate().first { $0.algorithm == .es256 && $0.status == .next }).kid
            #expect(Self.published(a).contains(staged))
            try step("staged, B not reloaded", signers: (old, old))
            try await b.reload()
            #expect(Self.published(b).contains(staged))

            // Promoting before every node can publish the staged keys is refused, and changes nothing.
            await #expect(throws: KeyRotationRefused.tooEarly(retryAfter: Int(KeyManager.propagation))) { try await a.rotate() }
            advance(KeyManager.propagation - 1)
            await #expect(throws: KeyRotationRefused.tooEarly(retryAfter: 1)) { try await a.rotate() }
            advance(1)
            try await a.rotate()
            // A signs with the new key at once; B, not reloaded yet, with the old one, which is retiring.
            try step("promoted, B not reloaded", signers: (staged, old))

            // Retired on A before B reloaded: B still signs with it until its reload, and A still
            // publishes it, for the grace period.
            let retired = try await a.retire()
            let record = try #require(retired.first { $0.kid == old })
            #expect(record.status == .retired)
            #expect(a.publishedUntil(record) == record.retiredAt?.addingTimeInterval(a.retiredKeyGrace))
            #expect(a.retiredKeyGrace == Self.longestSignedLifetime + KeyManager.propagation)
            try step("retired, B not reloaded", signers: (staged, old))
            try await b.reload()
            try step("retired, B reloaded", signers: (staged, staged))

            // Published until the grace period ends (B's clock says when for B), then gone everywhere.
            advance(a.retiredKeyGrace - 1)
            try await a.reload()
            try await b.reload()
            #expect(Self.published(a).contains(old) && Self.published(b).contains(old))
            advance(1)
            try await a.reload()
            try await b.reload()
            #expect(!Self.published(a).contains(old) && !Self.published(b).contains(old))
            #expect(Self.published(a) == Self.published(b))
            #expect(a.signer(for: .es256)?.kid == staged && b.signer(for: .es256)?.kid == staged)
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
