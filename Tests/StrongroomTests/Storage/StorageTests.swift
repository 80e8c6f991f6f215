import Foundation
import StrongroomCore
import Testing
@testable import StrongroomStorage

/// The one storage suite, run on every backend: SQLite in memory, SQLite file, and PostgreSQL when
/// `STRONGROOM_TEST_POSTGRES_URL` is set (CI sets it; `scripts/ci-postgres.sh` starts the server).
@Suite("Storage")
struct StorageTests {
    // MARK: Housekeeping

    @Test("PostgreSQL backend is reachable", .enabled(if: StorageBackend.postgresURL != nil, "STRONGROOM_TEST_POSTGRES_URL not set"))
    func postgresReachable() async throws {
        try await withStorage(.postgres) { storage, _ in
            try await storage.ping()
            #expect(storage.kind == .postgresql)
        }
    }

    @Test("migrate twice is idempotent", arguments: StorageBackend.enabled)
    func migrateTwice(backend: StorageBackend) async throws {
        try await withStorage(backend) { storage, _ in
            try await storage.migrate()
            try await storage.migrate()
            #expect(try await storage.schemaVersion() == Schema.latestVersion)
            try await storage.ping()
        }
    }

    @Test("unsupported URL is refused")
    func unsupportedURL() async throws {
        await #expect(throws: StorageError.self) {
            _ = try await SQLStorage.open(url: "mysql://localhost/db", logger: StorageBackend.logger)
        }
    }

    @Test("shutdown is idempotent and refuses later calls", arguments: StorageBackend.enabled)
    func shutdownTwice(backend: StorageBackend) async throws {
        let fixture = try await StorageFixture.open(backend)
        try await fixture.close()
        try await fixture.storage.shutdown()
        await #expect(throws: (any Error).self) { try await fixture.storage.ping() }
        await #expect(throws: (any Error).self) { _ = try await fixture.storage.clients() }
    }

    // MARK: Clients and users

    @Test("clients: create, read, list, update, delete; duplicate refused", arguments: StorageBackend.enabled)
    func clients(backend: StorageBackend) async throws {
        try await withStorage(backend) { storage, _ in
            let id = uniqueID("client")
            var metadata = ClientMetadata(clientName: "Bank RP", redirectURIs: ["https://rp.example/cb"],
                                          tokenEndpointAuthMethod: .privateKeyJWT, tokenEndpointAuthSigningAlg: .ps256)
            metadata.jwks = .object(["keys": .array([.object(["kty": .string("RSA"), "n": .string("abc")])])])
            metadata.requirePushedAuthorizationRequests = true
            let client = Client(clientID: id, metadata: metadata, secretHash: "h1", secretForHMAC: nil,
                                secretExpiresAt: at(86_400), registrationAccessTokenHash: "rat", source: "dcr",
                                createdAt: t0, updatedAt: t0)
            try await storage.createClient(client)
            #expect(try await storage.client(id: id) == client)
            #expect(try await storage.clients().contains(client))
            #expect(try await storage.client(id: uniqueID("none")) == nil)

            await #expect(throws: StorageError.duplicate("client \(id)")) { try await storage.createClient(client) }

            var changed = client
            changed.metadata.clientName = "Renamed"
            changed.secretHash = nil
            changed.updatedAt = at(10)
            try await storage.updateClient(changed)
            #expect(try await storage.client(id: id) == changed)

            var missing = client
            missing.clientID = uniqueID("none")
            await #expect(throws: StorageError.self) { try await storage.updateClient(missing) }

            #expect(try await storage.deleteClient(id: id))
            #expect(try await storage.deleteClient(id: id) == false)
            #expect(try await storage.client(id: id) == nil)
        }
    }

    @Test("users: create, read by username and subject, update, delete; duplicates refused", arguments: StorageBackend.enabled)
    func users(backend: StorageBackend) async throws {
        try await withStorage(backend) { storage, _ in
            let user = User(subject: uniqueID("sub"), username: uniqueID("alice"), passwordHash: "$2b$12$hash",
                            claims: ["email": .string("a@example.com"), "email_verified": .bool(true), "age": .number(42)],
                            createdAt: t0)
            try await storage.createUser(user)
            #expect(try await storage.user(username: user.username) == user)
            #expect(try await storage.user(subject: user.subject) == user)
            #expect(try await storage.users().contains(user))

            await #expect(throws: StorageError.duplicate("user \(user.username)")) { try await storage.createUser(user) }
            var sameName = user
            sameName.subject = uniqueID("sub")
            await #expect(throws: StorageError.duplicate("user \(user.username)")) { try await storage.createUser(sameName) }

            var changed = user
            changed.username = uniqueID("alice2")
            changed.claims["name"] = .string("Alice")
            try await storage.updateUser(changed)
            #expect(try await storage.user(subject: user.subject) == changed)
            #expect(try await storage.user(username: user.username) == nil)

            var ghost = user
            ghost.subject = uniqueID("ghost")
            ghost.username = uniqueID("ghost")
            await #expect(throws: StorageError.notFound("user \(ghost.subject)")) { try await storage.updateUser(ghost) }

            #expect(try await storage.deleteUser(username: changed.username))
            #expect(try await storage.deleteUser(username: changed.username) == false)
            #expect(try await storage.user(subject: user.subject) == nil)
        }
    }

    // MARK: Grants

    @Test("grants: one active grant per subject and client; revocation", arguments: StorageBackend.enabled)
    func grants(backend: StorageBackend) async throws {
        try await withStorage(backend) { storage, _ in
            let subject = uniqueID("sub")
            let first = Grant(id: uniqueID("g"), subject: subject, clientID: "client-a", scopes: ["openid"],
                              claims: ["email"], createdAt: t0, updatedAt: t0)
            try await storage.saveGrant(first)
            #expect(try await storage.activeGrant(subject: subject, clientID: "client-a") == first)
            #expect(try await storage.activeGrant(subject: subject, clientID: "client-b") == nil)
            #expect(try await storage.grant(id: first.id) == first)

            var widened = first
            widened.scopes = ["openid", "accounts"]
            widened.updatedAt = at(5)
            try await storage.saveGrant(widened)
            #expect(try await storage.activeGrant(subject: subject, clientID: "client-a") == widened)

            let second = Grant(id: uniqueID("g"), subject: subject, clientID: "client-a", scopes: ["payments"],
                               createdAt: at(10), updatedAt: at(10))
            try await storage.saveGrant(second)
            #expect(try await storage.activeGrant(subject: subject, clientID: "client-a") == second)
            #expect(try await storage.grant(id: first.id)?.revokedAt == at(10))

            let all = try await storage.grants(subject: subject)
            #expect(all.map(\.id) == [first.id, second.id])

            #expect(try await storage.revokeGrant(id: second.id, at: at(20)))
            #expect(try await storage.revokeGrant(id: second.id, at: at(21)) == false)
            #expect(try await storage.revokeGrant(id: uniqueID("none"), at: at(21)) == false)
            #expect(try await storage.grant(id: second.id)?.revokedAt == at(20))
            #expect(try await storage.activeGrant(subject: subject, clientID: "client-a") == nil)
        }
    }

    // MARK: Authorization codes

    @Test("code: redeemed once, then replayed; unknown code", arguments: StorageBackend.enabled)
    func codeRedemption(backend: StorageBackend) async throws {
        try await withStorage(backend) { storage, _ in
            let code = Records.code()
            try await storage.saveCode(code)
            await #expect(throws: StorageError.self) { try await storage.saveCode(code) }

            var consumed = code
            consumed.consumedAt = at(1)
            // Another client cannot redeem, nor burn, the code.
            #expect(try await storage.redeemCode(hash: code.codeHash, clientID: "someone-else", at: at(1)) == .otherClient)
            #expect(try await storage.redeemCode(hash: code.codeHash, clientID: code.clientID, at: at(1)) == .redeemed(consumed))
            #expect(try await storage.redeemCode(hash: code.codeHash, clientID: code.clientID, at: at(2)) == .replayed(consumed))
            #expect(try await storage.redeemCode(hash: uniqueID("none"), clientID: code.clientID, at: at(2)) == .unknown)
        }
    }

    @Test("code: 20 concurrent redemptions, exactly one wins", arguments: StorageBackend.enabled)
    func concurrentRedemption(backend: StorageBackend) async throws {
        try await withStorage(backend) { storage, _ in
            let code = Records.code()
            try await storage.saveCode(code)
            let results = try await withThrowingTaskGroup(of: CodeRedemption.self) { group in
                for i in 0..<20 {
                    group.addTask { try await storage.redeemCode(hash: code.codeHash, clientID: code.clientID, at: at(i)) }
                }
                return try await group.reduce(into: [CodeRedemption]()) { $0.append($1) }
            }
            let redeemed = results.filter { if case .redeemed = $0 { true } else { false } }
            let replayed = results.filter { if case .replayed = $0 { true } else { false } }
            #expect(redeemed.count == 1)
            #expect(replayed.count == 19)
        }
    }

    // MARK: Tokens

    @Test("tokens: save, read, refresh rotation and replay, single revocation", arguments: StorageBackend.enabled)
    func tokens(backend: StorageBackend) async throws {
        try await withStorage(backend) { storage, _ in
            let family = uniqueID("fam")
            let access = Records.token(kind: .access, familyID: family)
            let refresh = Records.token(kind: .refresh, familyID: family, expiresAt: at(86_400))
            try await storage.saveTokens([access, refresh])
            try await storage.saveTokens([])
            #expect(try await storage.token(hash: access.tokenHash) == access)
            #expect(try await storage.token(hash: refresh.tokenHash) == refresh)
            #expect(try await storage.token(hash: uniqueID("none")) == nil)
            await #expect(throws: StorageError.self) { try await storage.saveTokens([access]) }

            var rotated = refresh
            rotated.rotatedAt = at(100)
            #expect(try await storage.rotateRefreshToken(hash: refresh.tokenHash, at: at(100)) == .rotated(rotated))
            #expect(try await storage.rotateRefreshToken(hash: refresh.tokenHash, at: at(101)) == .replayed(rotated))
            #expect(try await storage.rotateRefreshToken(hash: access.tokenHash, at: at(101)) == .unknown)
            #expect(try await storage.rotateRefreshToken(hash: uniqueID("none"), at: at(101)) == .unknown)

            // A revoked (never rotated) refresh token cannot be rotated either.
            let other = Records.token(kind: .refresh)
            try await storage.saveTokens([other])
            #expect(try await storage.revokeToken(hash: other.tokenHash, at: at(5)))
            #expect(try await storage.revokeToken(hash: other.tokenHash, at: at(6)) == false)
            #expect(try await storage.revokeToken(hash: uniqueID("none"), at: at(6)) == false)
            guard case .replayed(let dead) = try await storage.rotateRefreshToken(hash: other.tokenHash, at: at(7)) else {
                Issue.record("a revoked refresh token was rotated")
                return
            }
            #expect(dead.revokedAt == at(5))
            #expect(dead.rotatedAt == nil)
        }
    }

    @Test("refresh: 20 concurrent rotations, exactly one wins", arguments: StorageBackend.enabled)
    func concurrentRotation(backend: StorageBackend) async throws {
        try await withStorage(backend) { storage, _ in
            let refresh = Records.token(kind: .refresh)
            try await storage.saveTokens([refresh])
            let results = try await withThrowingTaskGroup(of: RefreshRotation.self) { group in
                for i in 0..<20 {
                    group.addTask { try await storage.rotateRefreshToken(hash: refresh.tokenHash, at: at(i)) }
                }
                return try await group.reduce(into: [RefreshRotation]()) { $0.append($1) }
            }
            #expect(results.filter { if case .rotated = $0 { true } else { false } }.count == 1)
            #expect(results.filter { if case .replayed = $0 { true } else { false } }.count == 19)
        }
    }

    @Test("revocation cascades by code, family and grant", arguments: StorageBackend.enabled)
    func revocationCascades(backend: StorageBackend) async throws {
        try await withStorage(backend) { storage, _ in
            let codeID = uniqueID("cid"), grantID = uniqueID("g"), family = uniqueID("fam")
            let fromCode = [Records.token(kind: .access, codeID: codeID, familyID: family),
                            Records.token(kind: .refresh, codeID: codeID, familyID: family)]
            let rotatedChild = Records.token(kind: .refresh, familyID: family)
            let grantOnly = [Records.token(grantID: grantID), Records.token(grantID: grantID), Records.token(grantID: grantID)]
            let bystander = Records.token()
            try await storage.saveTokens(fromCode + [rotatedChild] + grantOnly + [bystander])

            #expect(try await storage.revokeTokens(codeID: codeID, at: at(1)) == 2)
            #expect(try await storage.revokeTokens(codeID: codeID, at: at(2)) == 0)
            // The family holds three tokens; two were revoked already.
            #expect(try await storage.revokeTokens(familyID: family, at: at(3)) == 1)
            #expect(try await storage.token(hash: rotatedChild.tokenHash)?.revokedAt == at(3))
            #expect(try await storage.token(hash: fromCode[0].tokenHash)?.revokedAt == at(1))
            #expect(try await storage.revokeTokens(grantID: grantID, at: at(4)) == 3)
            #expect(try await storage.revokeTokens(grantID: uniqueID("none"), at: at(4)) == 0)
            #expect(try await storage.token(hash: bystander.tokenHash)?.revokedAt == nil)
        }
    }

    // MARK: Pushed requests

    @Test("PAR: read without consuming, consume once", arguments: StorageBackend.enabled)
    func pushedRequests(backend: StorageBackend) async throws {
        try await withStorage(backend) { storage, _ in
            let record = PushedRequestRecord(
                requestURIHash: uniqueID("par"), clientID: "client-a",
                parameters: ["response_type": "code", "scope": "openid accounts", "redirect_uri": "https://rp.example/cb"],
                requestObjectClaims: .object(["aud": .string("https://as.example"), "exp": .number(1_900_000_090)]),
                profile: .fapi2Security, expiresAt: at(90), createdAt: t0)
            try await storage.savePushedRequest(record)
            #expect(try await storage.pushedRequest(hash: record.requestURIHash) == record)
            #expect(try await storage.pushedRequest(hash: record.requestURIHash) == record)

            var consumed = record
            consumed.consumedAt = at(3)
            #expect(try await storage.consumePushedRequest(hash: record.requestURIHash, at: at(3)) == consumed)
            #expect(try await storage.consumePushedRequest(hash: record.requestURIHash, at: at(4)) == nil)
            #expect(try await storage.consumePushedRequest(hash: uniqueID("none"), at: at(4)) == nil)
            #expect(try await storage.pushedRequest(hash: record.requestURIHash) == consumed)
        }
    }

    // MARK: Replay cache

    @Test("replay cache: second sighting is a replay until the entry expires", arguments: StorageBackend.enabled)
    func replayCache(backend: StorageBackend) async throws {
        try await withStorage(backend) { storage, _ in
            let jti = uniqueID("jti")
            let first = try await storage.remember(namespace: "client_assertion", value: jti, expiresAt: at(60), now: t0)
            let second = try await storage.remember(namespace: "client_assertion", value: jti, expiresAt: at(120), now: at(30))
            let otherNamespace = try await storage.remember(namespace: "dpop", value: jti, expiresAt: at(60), now: at(30))
            // Expired: the value may be recorded again, and is then a replay again.
            let afterExpiry = try await storage.remember(namespace: "client_assertion", value: jti, expiresAt: at(200), now: at(61))
            let againAfterExpiry = try await storage.remember(namespace: "client_assertion", value: jti, expiresAt: at(300), now: at(150))
            #expect(first)
            #expect(second == false)
            #expect(otherNamespace)
            #expect(afterExpiry)
            #expect(againAfterExpiry == false)
        }
    }

    @Test("replay cache: 20 concurrent sightings, exactly one is new", arguments: StorageBackend.enabled)
    func concurrentReplay(backend: StorageBackend) async throws {
        try await withStorage(backend) { storage, _ in
            let jti = uniqueID("jti")
            let results = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<20 {
                    group.addTask { try await storage.remember(namespace: "dpop", value: jti, expiresAt: at(60), now: t0) }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(results.filter { $0 }.count == 1)
        }
    }

    // MARK: Keys, sessions, interactions

    @Test("signing keys: save, list, status transitions", arguments: StorageBackend.enabled)
    func signingKeys(backend: StorageBackend) async throws {
        try await withStorage(backend) { storage, _ in
            let key = SigningKeyRecord(kid: uniqueID("kid"), algorithm: .ps256, privateKeyPEM: "-----BEGIN PRIVATE KEY-----\nMII\n-----END PRIVATE KEY-----",
                                       publicJWK: .object(["kty": .string("RSA"), "e": .string("AQAB")]), status: .next, createdAt: t0)
            try await storage.saveKey(key)
            await #expect(throws: StorageError.self) { try await storage.saveKey(key) }
            #expect(try await storage.keys().contains(key))

            try await storage.updateKeyStatus(kid: key.kid, status: .active, at: at(10))
            try await storage.updateKeyStatus(kid: key.kid, status: .active, at: at(11))
            var expected = key
            expected.status = .active
            expected.activatedAt = at(10)
            #expect(try await storage.keys().first { $0.kid == key.kid } == expected)

            try await storage.updateKeyStatus(kid: key.kid, status: .retiring, at: at(20))
            try await storage.updateKeyStatus(kid: key.kid, status: .retired, at: at(30))
            expected.status = .retired
            expected.retiredAt = at(30)
            #expect(try await storage.keys().first { $0.kid == key.kid } == expected)

            await #expect(throws: StorageError.notFound("signing key missing")) {
                try await storage.updateKeyStatus(kid: "missing", status: .active, at: at(1))
            }
        }
    }

    @Test("sessions: save, replace, read, delete", arguments: StorageBackend.enabled)
    func sessions(backend: StorageBackend) async throws {
        try await withStorage(backend) { storage, _ in
            let session = SessionRecord(idHash: uniqueID("sess"), subject: "alice", authTime: t0, acr: nil, amr: ["pwd"],
                                        csrfToken: "csrf-1", expiresAt: at(3600))
            try await storage.saveSession(session)
            #expect(try await storage.session(idHash: session.idHash) == session)
            var renewed = session
            renewed.authTime = at(100)
            renewed.amr = ["pwd", "otp"]
            renewed.acr = "2"
            try await storage.saveSession(renewed)
            #expect(try await storage.session(idHash: session.idHash) == renewed)
            try await storage.deleteSession(idHash: session.idHash)
            try await storage.deleteSession(idHash: session.idHash)
            #expect(try await storage.session(idHash: session.idHash) == nil)
        }
    }

    @Test("interactions: save, set subject, consume once", arguments: StorageBackend.enabled)
    func interactions(backend: StorageBackend) async throws {
        try await withStorage(backend) { storage, _ in
            let record = InteractionRecord(idHash: uniqueID("ia"), clientID: "client-a",
                                           request: .object(["scope": .string("openid"), "max_age": .number(300)]),
                                           profile: .fapi1Advanced, expiresAt: at(600), createdAt: t0)
            try await storage.saveInteraction(record)
            #expect(try await storage.interaction(idHash: record.idHash) == record)
            try await storage.setInteractionSubject(idHash: record.idHash, subject: "alice")
            var loggedIn = record
            loggedIn.subject = "alice"
            #expect(try await storage.interaction(idHash: record.idHash) == loggedIn)

            #expect(try await storage.consumeInteraction(idHash: record.idHash) == loggedIn)
            #expect(try await storage.consumeInteraction(idHash: record.idHash) == nil)
            #expect(try await storage.interaction(idHash: record.idHash) == nil)
            await #expect(throws: StorageError.notFound("interaction")) {
                try await storage.setInteractionSubject(idHash: record.idHash, subject: "bob")
            }
        }
    }

    // MARK: Sweeping

    @Test("sweep deletes expired rows and keeps live ones", arguments: StorageBackend.enabled)
    func sweep(backend: StorageBackend) async throws {
        try await withStorage(backend) { storage, _ in
            // On PostgreSQL the sweep is database-wide, so this test lives ten years before every other
            // test's timeline: its sweep cannot delete their rows.
            func at(_ seconds: Int) -> Date { t0.addingTimeInterval(TimeInterval(seconds - 315_360_000)) }
            let expiredCode = Records.code(expiresAt: at(10)), liveCode = Records.code(expiresAt: at(1000))
            try await storage.saveCode(expiredCode)
            try await storage.saveCode(liveCode)
            let expiredToken = Records.token(expiresAt: at(10)), liveToken = Records.token(expiresAt: at(1000))
            try await storage.saveTokens([expiredToken, liveToken])
            let expiredPAR = PushedRequestRecord(requestURIHash: uniqueID("par"), clientID: "c", parameters: [:],
                                                 requestObjectClaims: nil, profile: .oauth, expiresAt: at(10), createdAt: t0)
            try await storage.savePushedRequest(expiredPAR)
            let jti = uniqueID("jti")
            _ = try await storage.remember(namespace: "dpop", value: jti, expiresAt: at(10), now: at(0))
            let expiredSession = SessionRecord(idHash: uniqueID("s"), subject: "a", authTime: at(0), acr: nil, amr: [],
                                               csrfToken: "x", expiresAt: at(10))
            try await storage.saveSession(expiredSession)
            let expiredInteraction = InteractionRecord(idHash: uniqueID("i"), clientID: "c", request: .object([:]),
                                                       profile: .oauth, expiresAt: at(10), createdAt: t0)
            try await storage.saveInteraction(expiredInteraction)

            let removed = try await storage.sweepExpired(now: at(100))
            // PostgreSQL is shared with concurrently running tests, which may add expired rows of their own.
            if backend == .postgres { #expect(removed >= 6) } else { #expect(removed == 6) }

            #expect(try await storage.redeemCode(hash: expiredCode.codeHash, clientID: expiredCode.clientID, at: at(100)) == .unknown)
            #expect(try await storage.token(hash: expiredToken.tokenHash) == nil)
            #expect(try await storage.pushedRequest(hash: expiredPAR.requestURIHash) == nil)
            #expect(try await storage.session(idHash: expiredSession.idHash) == nil)
            #expect(try await storage.interaction(idHash: expiredInteraction.idHash) == nil)
            #expect(try await storage.remember(namespace: "dpop", value: jti, expiresAt: at(200), now: at(5)))

            #expect(try await storage.token(hash: liveToken.tokenHash) == liveToken)
            if case .redeemed = try await storage.redeemCode(hash: liveCode.codeHash, clientID: liveCode.clientID, at: at(100)) {} else {
                Issue.record("live code was swept")
            }
        }
    }

    // MARK: Group commit and durability

    @Test("group commit: 200 concurrent saveTokens are all durable", arguments: StorageBackend.enabled)
    func groupCommit(backend: StorageBackend) async throws {
        try await withStorage(backend) { storage, fixture in
            let tokens = (0..<200).map { _ in Records.token(kind: .refresh) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for token in tokens {
                    group.addTask { try await storage.saveTokens([token]) }
                }
                try await group.waitForAll()
            }
            if let sqlite = storage.executor as? SQLiteExecutor {
                let batches = await sqlite.committedBatches
                // Batched: far fewer commits than writes (only the migration ran before).
                #expect(batches < 100)
            }
            for token in tokens {
                #expect(try await storage.token(hash: token.tokenHash) == token)
            }
            guard backend != .sqliteMemory else { return }
            // Committed means on disk: a second handle sees every token.
            try await storage.shutdown()
            let reopened = try await fixture.reopen()
            for token in tokens {
                #expect(try await reopened.token(hash: token.tokenHash) == token)
            }
            try await reopened.shutdown()
        }
    }

    @Test("a failing write in a batch does not undo its neighbours", arguments: StorageBackend.enabled)
    func failureIsolation(backend: StorageBackend) async throws {
        try await withStorage(backend) { storage, _ in
            let existing = Records.token()
            try await storage.saveTokens([existing])
            let fresh = (0..<30).map { _ in Records.token() }
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for token in fresh {
                    group.addTask { (try? await storage.saveTokens([token])) != nil }
                }
                for _ in 0..<10 {
                    group.addTask { (try? await storage.saveTokens([existing])) != nil }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 30)
            for token in fresh {
                #expect(try await storage.token(hash: token.tokenHash) == token)
            }
        }
    }

    @Test("a write that fails part-way leaves nothing behind, and its batch neighbours commit", arguments: StorageBackend.enabled)
    func partialFailureIsAtomic(backend: StorageBackend) async throws {
        try await withStorage(backend) { storage, _ in
            let existing = Records.token()
            try await storage.saveTokens([existing])
            let fresh = (0..<20).map { _ in Records.token() }
            let orphans = (0..<5).map { _ in Records.token() }
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for token in fresh {
                    group.addTask { (try? await storage.saveTokens([token])) != nil }
                }
                for orphan in orphans {
                    // One request, two statements: the first succeeds, the second fails.
                    let cipher = storage.cipher
                    group.addTask {
                        do {
                            try await storage.executor.transaction { db -> Void in
                                try await db.insert([orphan], cipher: cipher)
                                try await db.insert([existing], cipher: cipher)
                            }
                            return true
                        } catch {
                            return false
                        }
                    }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == fresh.count)
            for token in fresh {
                #expect(try await storage.token(hash: token.tokenHash) == token)
            }
            for orphan in orphans {
                #expect(try await storage.token(hash: orphan.tokenHash) == nil)
            }
        }
    }

    @Test("writes in one batch see each other in order; a conflict inside the batch fails only the later one",
          arguments: StorageBackend.enabled)
    func conflictWithinBatch(backend: StorageBackend) async throws {
        try await withStorage(backend) { storage, _ in
            let tokens = (0..<10).map { _ in Records.token() }
            let results = await withTaskGroup(of: (Int, Bool).self) { group in
                for (index, token) in tokens.enumerated() {
                    // Every token twice: exactly one of the two saves can win.
                    group.addTask { (index, (try? await storage.saveTokens([token])) != nil) }
                    group.addTask { (index, (try? await storage.saveTokens([token])) != nil) }
                }
                return await group.reduce(into: [Int: Int]()) { wins, result in
                    if result.1 { wins[result.0, default: 0] += 1 }
                }
            }
            for index in tokens.indices {
                #expect(results[index] == 1)
                let stored = try await storage.token(hash: tokens[index].tokenHash)
                #expect(stored == tokens[index])
            }
        }
    }

    @Test("SQLite: a write waits for another connection's write lock instead of failing")
    func sqliteWaitsForLock() async throws {
        try await withStorage(.sqliteFile) { storage, fixture in
            let other = try SQLiteHandle(path: "\(fixture.directory!.path)/strongroom.sqlite")
            defer { other.close() }
            _ = try other.run("BEGIN IMMEDIATE", [])
            let token = Records.token()
            let save = Task { try await storage.saveTokens([token]) }
            // The reader connections are not blocked by the held write lock (WAL).
            #expect(try await storage.token(hash: token.tokenHash) == nil)
            try await Task.sleep(for: .milliseconds(200))
            _ = try other.run("COMMIT", [])
            try await save.value
            #expect(try await storage.token(hash: token.tokenHash) == token)
        }
    }
}
