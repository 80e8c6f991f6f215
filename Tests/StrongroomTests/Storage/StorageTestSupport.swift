import Foundation
import Logging
import StrongroomCore
import StrongroomJOSE
@testable import StrongroomStorage

/// A database the storage suite runs against.
enum StorageBackend: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqliteMemory = "SQLite in-memory"
    case sqliteFile = "SQLite file"
    case postgres = "PostgreSQL"

    var description: String { rawValue }

    /// Set (e.g. `postgres://strongroom:strongroom@127.0.0.1:5432/strongroom_test`) to run the PostgreSQL case.
    static let postgresURL: String? = {
        guard let url = ProcessInfo.processInfo.environment["STRONGROOM_TEST_POSTGRES_URL"], !url.isEmpty else { return nil }
        return url
    }()

    /// The backends to run: PostgreSQL only when configured.
    static let enabled: [StorageBackend] = postgresURL == nil ? [.sqliteMemory, .sqliteFile] : allCases

    static let logger: Logger = {
        var logger = Logger(label: "strongroom.tests.storage")
        logger.logLevel = .warning
        return logger
    }()
}

/// An opened, migrated storage; `close()` shuts it down and removes any temporary files.
struct StorageFixture {
    let storage: SQLStorage
    let backend: StorageBackend
    let directory: URL?

    static func open(_ backend: StorageBackend) async throws -> StorageFixture {
        switch backend {
        case .sqliteMemory:
            let storage = try await SQLStorage.open(url: "sqlite::memory:", logger: StorageBackend.logger)
            try await storage.migrate()
            return StorageFixture(storage: storage, backend: backend, directory: nil)
        case .sqliteFile:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("strongroom-storage-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let storage = try await SQLStorage.open(url: "sqlite:\(directory.path)/strongroom.sqlite", poolSize: 4, logger: StorageBackend.logger)
            try await storage.migrate()
            return StorageFixture(storage: storage, backend: backend, directory: directory)
        case .postgres:
            guard let url = StorageBackend.postgresURL else { throw StorageError.unavailable("STRONGROOM_TEST_POSTGRES_URL not set") }
            let storage = try await SQLStorage.open(url: url, poolSize: 4, logger: StorageBackend.logger)
            try await storage.migrate()
            return StorageFixture(storage: storage, backend: backend, directory: nil)
        }
    }

    /// Opens the same database again (file and PostgreSQL only).
    func reopen() async throws -> SQLStorage {
        switch backend {
        case .sqliteMemory: throw StorageError.unavailable("an in-memory database cannot be reopened")
        case .sqliteFile: return try await SQLStorage.open(url: "sqlite:\(directory!.path)/strongroom.sqlite", logger: StorageBackend.logger)
        case .postgres: return try await SQLStorage.open(url: StorageBackend.postgresURL!, poolSize: 2, logger: StorageBackend.logger)
        }
    }

    func close() async throws {
        try await storage.shutdown()
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }
}

/// Runs `body` with a fresh storage on `backend`, closing it afterwards even if `body` throws.
func withStorage(_ backend: StorageBackend, _ body: (SQLStorage, StorageFixture) async throws -> Void) async throws {
    let fixture = try await StorageFixture.open(backend)
    do {
        try await body(fixture.storage, fixture)
    } catch {
        try? await fixture.close()
        throw error
    }
    try await fixture.close()
}

/// Unique ids, so tests sharing one PostgreSQL database never collide.
func uniqueID(_ prefix: String) -> String { "\(prefix)-\(UUID().uuidString.lowercased())" }

/// Whole-second dates round-trip exactly through the millisecond columns.
let t0 = Date(timeIntervalSince1970: 1_900_000_000)
func at(_ seconds: Int) -> Date { t0.addingTimeInterval(TimeInterval(seconds)) }

enum Records {
    static func code(hash: String = uniqueID("code"), id: String = uniqueID("cid"), grantID: String? = nil,
                     expiresAt: Date = at(60)) -> AuthorizationCodeRecord {
        AuthorizationCodeRecord(
            codeHash: hash, id: id, clientID: "client-a", subject: "alice", redirectURI: "https://rp.example/cb",
            scopes: ["openid", "accounts"], nonce: "n-1", codeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            codeChallengeMethod: "S256", authTime: at(-5), acr: "urn:mace:incommon:iap:silver", amr: ["pwd"],
            claimsRequest: .object(["id_token": .object(["email": .null, "acr": .object(["essential": .bool(true)])])]),
            grantID: grantID, profile: .fapi2Security, dpopJKT: "jkt-1", expiresAt: expiresAt, createdAt: t0)
    }

    static func token(hash: String = uniqueID("tok"), kind: TokenKind = .access, codeID: String? = nil, grantID: String? = nil,
                      familyID: String = uniqueID("fam"), expiresAt: Date = at(3600)) -> TokenRecord {
        TokenRecord(
            tokenHash: hash, id: uniqueID("jti"), kind: kind, clientID: "client-a", subject: "alice", scopes: ["openid"],
            codeID: codeID, grantID: grantID, familyID: familyID, certificateThumbprint: "x5t-1", dpopJKT: nil,
            profile: .fapi1Advanced, authTime: at(-5), acr: nil, claimsRequest: .object(["userinfo": .object(["name": .null])]),
            expiresAt: expiresAt, createdAt: t0)
    }
}

/// A database of its own, which can be opened more than once: again under other keys (the
/// encryption tests) or by a second node (the multi-node tests). On PostgreSQL it is a fresh
/// schema (`?search_path=`), so that reading every row (re-keying, start-up checks) or seeding a
/// node never meets the rows of tests running beside it. Keys used with it are test material.
struct IsolatedDatabase {
    let backend: StorageBackend
    let url: String
    let directory: URL?
    let schema: String?

    /// Backends whose database outlives one connection (not SQLite in memory).
    static let reopenable = StorageBackend.enabled.filter { $0 != .sqliteMemory }

    /// `prefix` names the temporary folder and schema after what uses them.
    static func make(_ backend: StorageBackend, prefix: String) async throws -> IsolatedDatabase {
        switch backend {
        case .sqliteMemory:
            return IsolatedDatabase(backend: backend, url: "sqlite::memory:", directory: nil, schema: nil)
        case .sqliteFile:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("strongroom-\(prefix)-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            return IsolatedDatabase(backend: backend, url: "sqlite:\(directory.path)/strongroom.sqlite", directory: directory, schema: nil)
        case .postgres:
            guard let base = StorageBackend.postgresURL else { throw StorageError.unavailable("STRONGROOM_TEST_POSTGRES_URL not set") }
            let schema = prefix + "_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
            let admin = try await SQLStorage.open(url: base, poolSize: 1, logger: StorageBackend.logger)
            try await admin.executeForTests("CREATE SCHEMA \(schema)")
            try await admin.shutdown()
            let url = base + (base.contains("?") ? "&" : "?") + "search_path=\(schema)"
            return IsolatedDatabase(backend: backend, url: url, directory: nil, schema: schema)
        }
    }

    /// Opens and migrates it (a no-op for a second opener), sealing under `ring` (nil: no
    /// key-encryption key).
    func open(_ ring: KeyEncryptionKeyRing?, poolSize: Int = 2) async throws -> SQLStorage {
        let storage = try await SQLStorage.open(url: url, poolSize: poolSize, sealer: ring, logger: StorageBackend.logger)
        try await storage.migrate()
        return storage
    }

    func cleanup() async {
        if let directory { try? FileManager.default.removeItem(at: directory) }
        if let schema, let base = StorageBackend.postgresURL,
           let admin = try? await SQLStorage.open(url: base, poolSize: 1, logger: StorageBackend.logger) {
            try? await admin.executeForTests("DROP SCHEMA \(schema) CASCADE")
            try? await admin.shutdown()
        }
    }
}

/// Runs `body` with a fresh `IsolatedDatabase`, removing it afterwards even if `body` throws.
func withIsolatedDatabase(_ backend: StorageBackend, prefix: String, _ body: (IsolatedDatabase) async throws -> Void) async throws {
    let db = try await IsolatedDatabase.make(backend, prefix: prefix)
    do {
        try await body(db)
    } catch {
        await db.cleanup()
        throw error
    }
    await db.cleanup()
}
