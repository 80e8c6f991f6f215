import Foundation
import Testing
@testable import StrongroomCore
@testable import StrongroomEngine
@testable import StrongroomJOSE
@testable import StrongroomPolicy
@testable import StrongroomStorage

/// The stages of the authorization pipeline, each on its own (no engine, no storage).
@Suite struct EngineAuthorizationStagesTests {
    static let issuer = "https://as.example"
    static let redirect = "https://rp.example/cb"

    static func service() -> ServiceSettings {
        var s = ServiceSettings(issuer: issuer)
        s.scopes += [
            ScopeDefinition(name: "accounts", attributes: [ScopeAttribute(key: "fapi", value: "r")]),
            ScopeDefinition(name: "payments", attributes: [ScopeAttribute(key: "fapi", value: "rw")]),
        ]
        return s
    }

    static let client = Client(clientID: "c", metadata: ClientMetadata(
        redirectURIs: [redirect], tokenEndpointAuthMethod: .privateKeyJWT, responseTypes: [.code, .codeIDToken],
        scope: "openid accounts payments"))

    static func params(_ pairs: [(String, String)]) -> [Param] { pairs.map { Param($0.0, $0.1) } }

    static func roVerifier(_ payload: [String: JSONValue]) -> (String, Client) async throws(OAuthError) -> VerifiedJWS {
        { (_, _) async throws(OAuthError) -> VerifiedJWS in
            VerifiedJWS(header: ["alg": "PS256"], payload: payload, algorithm: .ps256, key: nil)
        }
    }

    static var noVerifier: (String, Client) async throws(OAuthError) -> VerifiedJWS {
        { (_, _) async throws(OAuthError) -> VerifiedJWS in throw OAuthError.invalidRequestObject("unexpected") }
    }

    @Test func resolutionKnowsEachParameterSource() async throws {
        let resolved = try await ResolvedParameters.resolve(
            outer: Self.params([("client_id", "c"), ("request", "x.y.z"), ("scope", "openid accounts"), ("state", "outside")]),
            client: Self.client, channel: .authorizationEndpoint, pushed: nil, now: Date(),
            verify: Self.roVerifier(["scope": "openid payments", "state": "inside", "exp": 2_000_000_000]))
        #expect(resolved.outsideSource == .query && !resolved.viaPAR)
        #expect(resolved.namedScopes == ["openid", "payments", "openid", "accounts"])
        let merged = resolved.effective(requestObjectOnly: false)
        #expect(merged.values["state"] == "inside" && merged.sources["state"] == .requestObject)
        #expect(merged.values["client_id"] == "c" && merged.sources["client_id"] == .query)
        let only = resolved.effective(requestObjectOnly: true)
        #expect(only.values["client_id"] == nil && only.values["scope"] == "openid payments")
        #expect(only.sources.values.allSatisfy { $0 == .requestObject })
    }

    @Test func resolutionRefusesRequestAndRequestURITogetherOnAPage() async {
        do {
            _ = try await ResolvedParameters.resolve(outer: Self.params([("request", "a"), ("request_uri", "b")]), client: Self.client,
                                                     channel: .authorizationEndpoint, pushed: nil, now: Date(), verify: Self.noVerifier)
            Issue.record("resolved")
        } catch {
            guard case .page(let e, _) = error else { Issue.record("\(error)"); return }
            #expect(e.code == .invalidRequest && e.errorDescription == "request and request_uri must not both be present")
        }
    }

    @Test func aPushedRequestIgnoresTheQuery() async throws {
        let record = PushedRequestRecord(requestURIHash: "h", clientID: "c", parameters: ["client_id": "c", "scope": "openid accounts"],
                                         requestObjectClaims: nil, profile: .fapi1Baseline, expiresAt: Date() + 60, createdAt: Date() - 5)
        let resolved = try await ResolvedParameters.resolve(
            outer: Self.params([("client_id", "c"), ("request_uri", "urn:x"), ("scope", "openid payments")]), client: Self.client,
            channel: .authorizationEndpoint, pushed: record, now: Date(), verify: Self.noVerifier)
        #expect(resolved.outside["scope"] == "openid accounts" && resolved.outsideSource == .pushedRequest && resolved.viaPAR)
        #expect(resolved.decisionTime == record.createdAt)
    }

    @Test func theDecisionTakesTheRulesOfEverySelectedProfile() async throws {
        let s = Self.service()
        let resolved = try await ResolvedParameters.resolve(outer: Self.params([("scope", "openid accounts payments")]), client: Self.client,
                                                            channel: .authorizationEndpoint, pushed: nil, now: Date(), verify: Self.noVerifier)
        let decided = ProfileDecisionStage.decide(resolved, client: Self.client, selector: ProfileSelector(service: s), ruleBook: RuleBook(service: s))
        #expect(decided.decision.profiles == [.fapi1Baseline, .fapi1Advanced] && decided.profile == .fapi1Advanced)
        #expect(decided.rules.requirements.pkce == .requiredS256)
        #expect(decided.rules.names.contains("RequireSignedRequestObject") && decided.rules.names.contains("RequireNonceWithOpenID"))
    }

    @Test func theRedirectTargetIsAPageUntilValidated() throws {
        let s = Self.service()
        let rules = RuleBook(service: s).rules(for: .fapi1Baseline)
        func stage(_ p: [String: String]) -> ProfileDecisionStage {
            ProfileDecisionStage(decision: .init(profile: .fapi1Baseline, reason: "test"), rules: rules, parameters: p,
                                 sources: p.mapValues { _ in .query })
        }
        do {
            _ = try RedirectTargetStage.resolve(stage(["response_type": "code"]), client: Self.client, service: s)
            Issue.record("resolved without redirect_uri")
        } catch {
            guard case .page(let e, _) = error else { Issue.record("\(error)"); return }
            #expect(e.errorDescription == "redirect_uri is required")
        }
        do {
            _ = try RedirectTargetStage.resolve(stage(["redirect_uri": Self.redirect, "response_mode": "nope", "response_type": "code"]),
                                                client: Self.client, service: s)
            Issue.record("resolved with a bad response_mode")
        } catch {
            guard case .redirect(let e, let target) = error else { Issue.record("\(error)"); return }
            #expect(e.code == .invalidRequest && target.redirectURI == Self.redirect && target.responseMode == .query)
        }
        let ok = try RedirectTargetStage.resolve(stage(["redirect_uri": Self.redirect, "response_type": "code id_token", "state": "s"]),
                                                 client: Self.client, service: s)
        #expect(ok.target.responseMode == .fragment && ok.target.state == "s" && ok.redirectURIPresent)
    }
}
