import Foundation
import Logging
import StrongroomCore
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
