import Foundation
import StrongroomCore
import StrongroomJOSE
import StrongroomPolicy
import StrongroomStorage

extension Engine {
    /// The admin API under `/admin`, protected by the configured admin bearer credential.
    /// Clients: GET/POST /admin/clients, POST /admin/clients/check, GET/PUT/DELETE /admin/clients/{id};
    /// users: GET/POST /admin/users, DELETE /admin/users/{username}; keys: GET /admin/keys,
    /// POST /admin/keys/rotate, POST /admin/keys/retire.
    public func admin(_ request: TransportRequest) async -> EngineResponse {
        do {
            guard let expected = configuration.admin.token, !expected.isEmpty else {
                throw OAuthError(.notFound, "the admin API is disabled", status: 404)
            }
            let token = try bearerToken(request)
            guard constantTimeEquals(token, expected) else { throw OAuthError(.invalidToken, "the admin credential is not valid", status: 401) }
            var path = request.path
            if let r = path.range(of: "/admin") { path = String(path[r.upperBound...]) }
            let parts = path.split(separator: "/").map { String($0).removingPercentEncoding ?? String($0) }
            switch (request.method, parts.count > 0 ? parts[0] : "", parts.count) {
            case ("GET", "clients", 1):
                let list = try await clients.list()
                return .json(.array(list.map { clientJSON($0) }))
            case ("POST", "clients", 1):
                var body = try jsonBody(request)
                let id = body["client_id"]?.stringValue
                let secret = body["client_secret"]?.stringValue
                body["client_id"] = nil
                body["client_secret"] = nil
                let metadata = try parseMetadata(JSONValue.object(body).serialized())
                do {
                    let r = try await clients.register(metadata, clientID: id, clientSecret: secret, source: "admin")
                    var out = clientJSON(r.client).objectValue ?? [:]
                    if let s = r.clientSecret { out["client_secret"] = .string(s) }
                    return .json(.object(out), status: 201)
                } catch let refused as RegistrationRefused {
                    return .json(["error": "invalid_client_metadata", "violations": .array(refused.violations.map(violationJSON))], status: 400)
                } catch StorageError.duplicate {
                    throw OAuthError(.invalidClientMetadata, "a client with this client_id exists")
                }
            case ("POST", "clients", 2) where parts[1] == "check":
                let metadata = try parseMetadata(request.body)
                let v = clients.validate(metadata)
                return .json(["ok": .bool(v.isEmpty), "violations": .array(v.map(violationJSON))])
            case ("GET", "clients", 2):
                guard let c = try await clients.lookup(parts[1]) else { throw OAuthError(.notFound, "no such client", status: 404) }
                return .json(clientJSON(c))
            case ("PUT", "clients", 2):
                let metadata = try parseMetadata(request.body)
                do {
                    return .json(clientJSON(try await clients.update(clientID: parts[1], metadata: metadata)))
                } catch let refused as RegistrationRefused {
                    return .json(["error": "invalid_client_metadata", "violations": .array(refused.violations.map(violationJSON))], status: 400)
                } catch StorageError.notFound { throw OAuthError(.notFound, "no such client", status: 404) }
            case ("DELETE", "clients", 2):
                guard try await clients.remove(clientID: parts[1]) else { throw OAuthError(.notFound, "no such client", status: 404) }
                return EngineResponse(status: 204)
            case ("GET", "users", 1):
                return .json(.array(try await users.list().map { ["username": .string($0.username), "sub": .string($0.subject)] }))
            case ("POST", "users", 1):
                let body = try jsonBody(request)
                guard let u = body["username"]?.stringValue, let p = body["password"]?.stringValue else {
                    throw OAuthError.invalidRequest("username and password are required")
                }
                do {
                    let user = try await users.add(username: u, password: p, claims: body["claims"]?.objectValue ?? [:])
                    return .json(["username": .string(user.username), "sub": .string(user.subject)], status: 201)
                } catch let e as ConfigurationError { throw OAuthError.invalidRequest(e.description) }
                catch StorageError.duplicate { throw OAuthError.invalidRequest("a user with this username exists") }
            case ("DELETE", "users", 2):
                guard try await users.remove(username: parts[1]) else { throw OAuthError(.notFound, "no such user", status: 404) }
                return EngineResponse(status: 204)
            case ("GET", "keys", 1):
                return .json(.array(try await keys.list().map(keyJSON)))
            case ("POST", "keys", 2) where parts[1] == "rotate":
                do { return .json(.array(try await keys.rotate().map(keyJSON))) } catch let refused as KeyRotationRefused {
                    throw refused.oauthError
                }
            case ("POST", "keys", 2) where parts[1] == "retire":
                return .json(.array(try await keys.retire().map(keyJSON)))
            default:
                throw OAuthError(.notFound, "no such admin resource", status: 404)
            }
        } catch let e as OAuthError {
            logRefusal(e, endpoint: "admin", profile: nil, request: request)
            return e.code == .invalidToken ? Self.bearerError(e) : .oauthError(e)
        } catch {
            let e = OAuthError.failure(error, "admin")
            logRefusal(e, endpoint: "admin", profile: nil, request: request)
            return .oauthError(e)
        }
    }

    func jsonBody(_ request: TransportRequest) throws(OAuthError) -> [String: JSONValue] {
        guard request.body.count <= Self.maxRegistrationBody, let o = JSONValue.parse(request.body)?.objectValue else {
            throw OAuthError.invalidRequest("the body must be a JSON object")
        }
        return o
    }

    /// A client as the admin API and CLI show it: metadata, implied profiles, never secrets.
    public func clientJSON(_ c: Client) -> JSONValue {
        var o = (try? JSONValue(encoding: c.metadata))?.objectValue ?? [:]
        o["client_id"] = .string(c.clientID)
        o["source"] = .string(c.source)
        o["profiles"] = .array(selector().profiles(for: c.metadata).sorted().map { .string($0.rawValue) })
        o["created_at"] = unixTime(c.createdAt)
        return .object(o)
    }

    func violationJSON(_ v: Violation) -> JSONValue {
        ["profile": .string(v.profile.rawValue), "field": .string(v.field), "message": .string(v.message)]
    }

    func keyJSON(_ k: SigningKeyRecord) -> JSONValue {
        var o: [String: JSONValue] = ["kid": .string(k.kid), "alg": .string(k.algorithm.rawValue), "status": .string(k.status.rawValue),
                                      "created_at": unixTime(k.createdAt)]
        if let at = k.activatedAt { o["activated_at"] = unixTime(at) }
        if let at = k.retiredAt { o["retired_at"] = unixTime(at) }
        if let until = keys.publishedUntil(k) { o["published_until"] = unixTime(until) }
        return .object(o)
    }
}
