import Foundation
import Logging
import StrongroomCore
import StrongroomJOSE
import StrongroomPolicy
import StrongroomStorage

extension Engine {
    static let maxRegistrationBody = 64 * 1024

    /// Parses a registration body as client metadata, with errors that name the field.
    /// `operatorFields: false` (Dynamic Client Registration) refuses the `strongroom_*` settings
    /// that only an operator may choose, such as a forced profile.
    func parseMetadata(_ body: Data, operatorFields: Bool = true) throws(OAuthError) -> ClientMetadata {
        guard body.count <= Self.maxRegistrationBody else { throw OAuthError(.invalidClientMetadata, "the registration request is too large") }
        guard let json = JSONValue.parse(body), let object = json.objectValue else {
            throw OAuthError(.invalidClientMetadata, "the registration request must be a JSON object")
        }
        if !operatorFields, let field = object.keys.sorted().first(where: { $0.hasPrefix("strongroom_") }) {
            throw OAuthError(.invalidClientMetadata, "\(ErrorText.quoted(field)) can only be set by an administrator")
        }
        do {
            return try JSONDecoder().decode(ClientMetadata.self, from: body)
        } catch let e as DecodingError {
            throw OAuthError(.invalidClientMetadata, ConfigurationError.describe(e))
        } catch {
            throw OAuthError(.invalidClientMetadata, "the registration request could not be read")
        }
    }

    func registrationResponse(_ client: Client, secret: String?, registrationToken: String?, status: Int) -> EngineResponse {
        var body = (try? JSONValue(encoding: client.metadata))?.objectValue ?? [:]
        body["client_id"] = .string(client.clientID)
        body["client_id_issued_at"] = unixTime(client.createdAt)
        if let secret {
            body["client_secret"] = .string(secret)
            body["client_secret_expires_at"] = 0
        }
        if let registrationToken { body["registration_access_token"] = .string(registrationToken) }
        body["registration_client_uri"] = .string(url(EndpointPath.registration + "/" + FormCoding.escape(client.clientID)))
        return .json(.object(body), status: status)
    }

    static func registrationError(_ e: OAuthError) -> EngineResponse {
        .oauthError(e)
    }

    /// POST /register (RFC 7591 §3): needs an initial access token; the same validation as the CLI.
    /// Every request is counted against its address (`limits.register.per_address`).
    public func register(_ request: TransportRequest) async -> EngineResponse {
        if let refusal = limiter.take(.register, address: request.remoteAddress) {
            let e = tooManyRequests(refusal, from: "address")
            logRefusal(e, endpoint: "register", profile: nil, request: request)
            return .oauthError(e)
        }
        do {
            guard service.registration.enabled else { throw OAuthError(.notFound, "dynamic registration is disabled", status: 404) }
            guard request.method == "POST" else { throw OAuthError(.invalidRequest, "POST only", status: 405) }
            let token = try bearerToken(request)
            guard service.registration.initialAccessTokens.contains(where: { constantTimeEquals($0, token) }) else {
                throw OAuthError(.invalidToken, "the initial access token is not valid", status: 401)
            }
            guard request.contentType == "application/json" else { throw OAuthError(.invalidClientMetadata, "the body must be application/json") }
            let metadata = try parseMetadata(request.body, operatorFields: false)
            do {
                let registered = try await clients.register(metadata, source: "dcr", issueRegistrationToken: true)
                logger.notice("client registered", metadata: ["client_id": "\(registered.client.clientID)", "source": "dcr"])
                return registrationResponse(registered.client, secret: registered.clientSecret,
                                            registrationToken: registered.registrationAccessToken, status: 201)
            } catch let refused as RegistrationRefused {
                throw refused.oauthError
            } catch {
                throw OAuthError.failure(error, "register")
            }
        } catch let raw {
            let error = OAuthError.wrap(raw)
            logRefusal(error, endpoint: "registration", profile: nil, request: request)
            return error.code == .invalidToken ? Self.bearerError(error) : .oauthError(error)
        }
    }

    /// GET/PUT/DELETE /register/{client_id} (RFC 7592) with the registration access token.
    public func manageRegistration(_ request: TransportRequest, clientID: String) async -> EngineResponse {
        do {
            guard service.registration.enabled else { throw OAuthError(.notFound, "dynamic registration is disabled", status: 404) }
            let token = try bearerToken(request)
            guard let client = try? await storage.client(id: clientID), let hash = client.registrationAccessTokenHash,
                  hasher.matches(token, hash: hash) else {
                // RFC 7592 §2.1: an unknown client or a wrong token look the same.
                throw OAuthError(.invalidToken, "the registration access token is not valid for this client", status: 401)
            }
            switch request.method {
            case "GET":
                return registrationResponse(client, secret: nil, registrationToken: nil, status: 200)
            case "PUT":
                guard request.contentType == "application/json" else { throw OAuthError(.invalidClientMetadata, "the body must be application/json") }
                if let body = JSONValue.parse(request.body), let id = body["client_id"]?.stringValue, id != clientID {
                    throw OAuthError(.invalidRequest, "client_id in the body must match")
                }
                // Operator settings survive a client's own update (every `strongroom_*` member).
                let metadata = try parseMetadata(request.body, operatorFields: false).keepingOperatorSettings(of: client.metadata)
                do {
                    let updated = try await clients.update(clientID: clientID, metadata: metadata)
                    return registrationResponse(updated, secret: nil, registrationToken: nil, status: 200)
                } catch let refused as RegistrationRefused {
                    throw refused.oauthError
                } catch StorageError.notFound {
                    // Deleted while this update was in flight (RFC 7592 §2.2: the token died with it).
                    throw OAuthError(.invalidToken, "the registration access token is not valid for this client", status: 401)
                } catch { throw OAuthError.failure(error, "update") }
            case "DELETE":
                _ = try? await clients.remove(clientID: clientID)
                return EngineResponse(status: 204, headers: [Param("Cache-Control", "no-store")])
            default:
                throw OAuthError(.invalidRequest, "method not allowed", status: 405)
            }
        } catch let raw {
            let error = OAuthError.wrap(raw)
            logRefusal(error, endpoint: "registration-management", profile: nil, request: request, clientID: clientID)
            return error.code == .invalidToken ? Self.bearerError(error) : .oauthError(error)
        }
    }
}
