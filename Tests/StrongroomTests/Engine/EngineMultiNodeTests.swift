import Foundation
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
