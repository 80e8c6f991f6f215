import Foundation
import StrongroomCore
import StrongroomJOSE
import StrongroomPolicy
import StrongroomStorage

/// Where an authorization parameter came from.
enum ParameterSource: String, Sendable {
    /// The authorization endpoint's own query or form.
    case query
    /// The PAR request's form (RFC 9126 §2.1).
    case pushedRequest
    /// A verified request object (RFC 9101), by value or pushed.
    case requestObject
}

/// A verified request object: its claims as authorization parameters, and the facts the rules judge.
struct VerifiedRequestObject: Sendable {
    var facts: RequestObjectFacts
    var parameters: [String: String]
}

/// Stage 1 of the authorization pipeline: the raw request's parameters, with the request object
/// verified and every parameter's source known. Nothing here depends on the profile.
struct ResolvedParameters: Sendable {
    /// The parameters outside any request object: the pushed request's form when there is one
    /// (RFC 9126 §4: the authorization endpoint's query then counts for nothing but `client_id` and
    /// `request_uri`), else the authorization endpoint's own.
    var outside: [String: String]
    var outsideSource: ParameterSource
    var requestObject: VerifiedRequestObject?
    /// The instant the request is judged at: a pushed request as of when it was pushed.
    var decisionTime: Date
    var viaPAR: Bool

    /// Every scope the request names, inside and outside a request object.
    var namedScopes: [String] {
        parseScopes(requestObject?.parameters["scope"]) + parseScopes(outside["scope"])
    }

    static let maxParameterLength = 16_384

    /// Resolves the raw parameters. Failures here are shown on an error page: the client and its
    /// redirect URI are not validated yet (RFC 6749 §4.1.2.1).
    static func resolve(
        outer: [Param], client: Client, channel: AuthorizationChannel, pushed: PushedRequestRecord?, now: Date,
        verify: (String, Client) async throws(OAuthError) -> VerifiedJWS
    ) async throws(AuthorizationFailure) -> ResolvedParameters {
        func page(_ e: OAuthError) -> AuthorizationFailure { .page(e, profile: nil) }
        if let long = outer.first(where: { $0.value.utf8.count > maxParameterLength }) {
            throw page(.invalidRequest("parameter \(ErrorText.quoted(long.name)) is too long"))
        }
        if let dup = outer.hasDuplicates() { throw page(.invalidRequest("parameter \(ErrorText.quoted(dup)) is repeated")) }
        var params = outer.dictionary
        var source = channel == .pushed ? ParameterSource.pushedRequest : .query
        var decisionTime = now
        if let pushed {
            // RFC 9126 §4: only the pushed parameters count; its request object is judged as of
            // the moment it was pushed.
            params = pushed.parameters
            source = .pushedRequest
            decisionTime = pushed.createdAt
        }
        var requestObject: VerifiedRequestObject?
        if let requestValue = params["request"] {
            if params["request_uri"] != nil { throw page(.invalidRequest("request and request_uri must not both be present")) }
            let verified: VerifiedJWS
            do { verified = try await verify(requestValue, client) } catch { throw page(error) }
            if let roClient = verified.payload["client_id"]?.stringValue, roClient != client.clientID {
                throw page(.invalidRequestObject("client_id in the request object does not match"))
            }
            if let iss = verified.payload["iss"]?.stringValue, iss != client.clientID {
                throw page(.invalidRequestObject("iss in the request object must be the client_id"))
            }
            if verified.payload["request"] != nil || verified.payload["request_uri"] != nil {
                throw page(.invalidRequestObject("a request object must not contain request or request_uri"))
            }
            requestObject = VerifiedRequestObject(facts: facts(verified.payload, algorithm: verified.algorithm),
                                                  parameters: parameterStrings(verified.payload))
        } else if let uri = params["request_uri"] {
            if uri.hasPrefix(Engine.parURNPrefix) {
                throw page(.init(.invalidRequestURI, "request_uri is unknown, expired or already used"))
            }
            throw page(.init(.requestURINotSupported, "only request_uri values from the PAR endpoint are accepted"))
        }
        return ResolvedParameters(outside: params, outsideSource: source, requestObject: requestObject, decisionTime: decisionTime,
                                  viaPAR: pushed != nil || channel == .pushed)
    }

    /// The parameters the request is answered with, and where each came from: only the request
    /// object's when the profile's rules say so (FAPI 1.0 Part 2 §5.2.2-10), else the request
    /// object's taking precedence over the outside ones (OIDC Core §6.3.3).
    func effective(requestObjectOnly: Bool) -> (values: [String: String], sources: [String: ParameterSource]) {
        var values = outside
        var sources = values.mapValues { _ in outsideSource }
        if let ro = requestObject {
            if requestObjectOnly {
                values = ro.parameters
                sources = values.mapValues { _ in .requestObject }
            } else {
                for (k, v) in ro.parameters { values[k] = v; sources[k] = .requestObject }
                values["request"] = nil
                sources["request"] = nil
            }
        }
        values["request_uri"] = nil
        sources["request_uri"] = nil
        return (values, sources)
    }

    static func facts(_ payload: [String: JSONValue], algorithm: JWSAlgorithm) -> RequestObjectFacts {
        RequestObjectFacts(algorithm: algorithm, exp: dateFrom(payload["exp"]), nbf: dateFrom(payload["nbf"]),
                           audiences: audiences(payload["aud"]), issuer: payload["iss"]?.stringValue, claimNames: Set(payload.keys))
    }

    /// Request-object claims as authorization parameters: strings as they are, JSON values
    /// (e.g. `claims`, `max_age`) serialized.
    static func parameterStrings(_ payload: [String: JSONValue]) -> [String: String] {
        var out: [String: String] = [:]
        let jwtOnly: Set<String> = ["iss", "aud", "exp", "nbf", "iat", "jti", "sub"]
        for (k, v) in payload where !jwtOnly.contains(k) {
            switch v {
            case .string(let s): out[k] = s
            case .number(let n): out[k] = (n.rounded() == n && abs(n) < 9.0e15) ? String(Int64(n)) : String(n)
            case .bool(let b): out[k] = b ? "true" : "false"
            case .null: continue
            default: out[k] = v.serializedString()
            }
        }
        return out
    }
}
