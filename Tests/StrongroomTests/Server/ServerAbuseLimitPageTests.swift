import Foundation
import HTTPTypes
import StrongroomCore
import StrongroomEngine
import Testing

@testable import StrongroomServer

/// How the HTTP layer writes the engine's refusals for load: the status and `Retry-After` they
/// carry, on the error page, the login page and the JSON endpoints.
extension ServerResponderTests {
    @Test func rateLimitedErrorPageIs429WithRetryAfter() async throws {
        let engine = ServerStubEngine()
        engine.authorizeOutcome = .errorPage(.tooManyRequests("too many requests from this address; try again in 7 seconds", retryAfter: 7))
        let r = try await send(try await makeResponder(engine), .get, "/authorize?client_id=client-1")
        #expect(r.status == 429)
        #expect(r.header("retry-after") == "7")
        #expect(r.header("location") == nil)
        #expect(r.header("content-type") == "text/html; charset=utf-8")
        #expect(r.body.contains("temporarily_unavailable"))
        #expect(r.body.contains("Wait 7 seconds, then go back and try again."))
        #expect(!r.body.contains("cannot be processed"))
    }

    @Test func shedLoginPageIs503WithRetryAfter() async throws {
        let engine = ServerStubEngine()
        var ticket = Self.ticket
        ticket.message = "The server is busy. Please try again in a few seconds."
        ticket.status = 503
        ticket.retryAfter = 5
        engine.loginOutcome = .failed(.interact(ticket))
        let r = try await send(try await makeResponder(engine), .post, "/login",
                               headers: [("content-type", "application/x-www-form-urlencoded")],
                               body: "interaction_id=int-1&username=alice&password=pw")
        #expect(r.status == 503)
        #expect(r.header("retry-after") == "5")
        #expect(r.body.contains(#"role="alert">The server is busy. Please try again in a few seconds."#))
        #expect(r.body.contains(#"name="interaction_id" value="int-1""#))
    }

    @Test func rateLimitedJSONCarriesRetryAfter() {
        let r = EngineResponse.oauthError(.tooManyRequests("too many requests from this client; try again in 1 second", retryAfter: 1))
        #expect(r.status == 429)
        #expect(r.header("Retry-After") == "1")
        #expect(r.header("Cache-Control") == "no-store")
        let json = JSONValue.parse(r.body)?.objectValue ?? [:]
        #expect(json["error"]?.stringValue == "temporarily_unavailable")
        #expect(json["error_description"]?.stringValue == "too many requests from this client; try again in 1 second")
    }
}
