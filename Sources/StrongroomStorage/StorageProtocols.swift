import Foundation
import StrongroomCore

// Narrow storage protocols, one per aggregate. Handlers (not stores) turn storage failures into
// OAuth errors. Every secret value (token, code, request_uri, session id) is stored only as a
// keyed hash computed by the caller: stores never see the plain value.

/// Thrown by stores for conflicts the caller must handle (duplicate primary keys).
public enum StorageError: Error, Sendable, Equatable, OutageError {
    case duplicate(String)
    case notFound(String)
    /// The database cannot be reached or lost the connection (or the storage is shut down):
    /// retrying later may succeed.
    case unavailable(String)
    /// A stored value, a URL or a setting that cannot be used: a fault, not an outage.
    case invalid(String)

    public var isOutage: Bool { if case .unavailable = self { true } else { false } }
}

public protocol ClientStore: Sendable {
    func createClient(_ client: Client) async throws
    func client(id: String) async throws -> Client?
    func clients() async throws -> [Client]
    func updateClient(_ client: Client) async throws
    /// Returns false if there was no such client.
    func deleteClient(id: String) async throws -> Bool
}

public protocol UserStore: Sendable {
    func createUser(_ user: User) async throws
    func user(username: String) async throws -> User?
    func user(subject: String) async throws -> User?
    func users() async throws -> [User]
    func updateUser(_ user: User) async throws
    func deleteUser(username: String) async throws -> Bool
}

/// A user's consent to a client: remembered so the next request with the same scopes skips the page.
public struct Grant: Sendable, Equatable {
    public var id: String
    public var subject: String
    public var clientID: String
    public var scopes: [String]
    /// Claims (names) consented to through the `claims` parameter.
    public var claims: [String]
    public var createdAt: Date
    public var updatedAt: Date
    public var revokedAt: Date?
    public init(id: String, subject: String, clientID: String, scopes: [String], claims: [String] = [],
                createdAt: Date, updatedAt: Date, revokedAt: Date? = nil) {
        self.id = id; self.subject = subject; self.clientID = clientID; self.scopes = scopes; self.claims = claims
        self.createdAt = createdAt; self.updatedAt = updatedAt; self.revokedAt = revokedAt
    }
}

public protocol GrantStore: Sendable {
    /// Inserts or replaces the active grant for (subject, clientID).
    func saveGrant(_ grant: Grant) async throws
    func activeGrant(subject: String, clientID: String) async throws -> Grant?
    func grant(id: String) async throws -> Grant?
    func grants(subject: String) async throws -> [Grant]
    /// Marks the grant revoked; returns false if absent or already revoked.
    func revokeGrant(id: String, at: Date) async throws -> Bool
}

/// Everything an authorization code stands for, kept until the code is redeemed.
public struct AuthorizationCodeRecord: Sendable, Equatable {
    public var codeHash: String
    /// Stable id used to find and revoke tokens issued from this code.
    public var id: String
    public var clientID: String
    public var subject: String
    public var redirectURI: String?
    public var scopes: [String]
    public var nonce: String?
    public var codeChallenge: String?
    public var codeChallengeMethod: String?
    public var authTime: Date
    public var acr: String?
    public var amr: [String]
    /// The OIDC `claims` request (JSON), for ID token and userinfo claims.
    public var claimsRequest: JSONValue?
    public var grantID: String?
    public var profile: Profile
    /// DPoP / mTLS binding requested at the authorization step (FAPI 2.0 dpop_jkt), if any.
    public var dpopJKT: String?
    public var expiresAt: Date
    public var createdAt: Date
    public var consumedAt: Date?
    public init(codeHash: String, id: String, clientID: String, subject: String, redirectURI: String?, scopes: [String],
                nonce: String?, codeChallenge: String?, codeChallengeMethod: String?, authTime: Date, acr: String?,
                amr: [String], claimsRequest: JSONValue?, grantID: String?, profile: Profile, dpopJKT: String? = nil,
                expiresAt: Date, createdAt: Date, consumedAt: Date? = nil) {
        self.codeHash = codeHash; self.id = id; self.clientID = clientID; self.subject = subject; self.redirectURI = redirectURI
        self.scopes = scopes; self.nonce = nonce; self.codeChallenge = codeChallenge; self.codeChallengeMethod = codeChallengeMethod
        self.authTime = authTime; self.acr = acr; self.amr = amr; self.claimsRequest = claimsRequest; self.grantID = grantID
        self.profile = profile; self.dpopJKT = dpopJKT; self.expiresAt = expiresAt; self.createdAt = createdAt; self.consumedAt = consumedAt
    }
}

public enum CodeRedemption: Sendable, Equatable {
    /// First redemption: the code is now consumed.
    case redeemed(AuthorizationCodeRecord)
    /// The code was already consumed: the caller revokes everything issued from it.
    case replayed(AuthorizationCodeRecord)
    /// The code belongs to another client: refused, and left as it was (another client cannot
    /// burn a code it was never given).
    case otherClient
    case unknown
}

public protocol AuthorizationCodeStore: Sendable {
    func saveCode(_ record: AuthorizationCodeRecord) async throws
    /// Atomically marks the code consumed (`UPDATE … WHERE client_id = ? AND consumed_at IS NULL`),
    /// reporting replays and codes of other clients.
    func redeemCode(hash: String, clientID: String, at: Date) async throws -> CodeRedemption
}

public enum TokenKind: String, Sendable, Codable {
    case access
    case refresh
}

/// An issued access or refresh token.
public struct TokenRecord: Sendable, Equatable {
    public var tokenHash: String
    public var id: String
    public var kind: TokenKind
    public var clientID: String
    /// Nil for client_credentials.
    public var subject: String?
    public var scopes: [String]
    /// The code this token descends from (for revocation on code replay).
    public var codeID: String?
    public var grantID: String?
    /// Refresh-token family: every rotation keeps the family id; replay revokes the family.
    public var familyID: String
    /// `x5t#S256` of the certificate the token is bound to (RFC 8705 §3).
    public var certificateThumbprint: String?
    /// DPoP key thumbprint (RFC 9449 `cnf.jkt`).
    public var dpopJKT: String?
    public var profile: Profile
    public var authTime: Date?
    public var acr: String?
    public var claimsRequest: JSONValue?
    public var expiresAt: Date
    public var createdAt: Date
    public var revokedAt: Date?
    /// For refresh tokens: when it was rotated out (a later use is a replay).
    public var rotatedAt: Date?
    public init(tokenHash: String, id: String, kind: TokenKind, clientID: String, subject: String?, scopes: [String],
                codeID: String?, grantID: String?, familyID: String, certificateThumbprint: String?, dpopJKT: String? = nil,
                profile: Profile, authTime: Date?, acr: String?, claimsRequest: JSONValue? = nil, expiresAt: Date, createdAt: Date,
                revokedAt: Date? = nil, rotatedAt: Date? = nil) {
        self.tokenHash = tokenHash; self.id = id; self.kind = kind; self.clientID = clientID; self.subject = subject
        self.scopes = scopes; self.codeID = codeID; self.grantID = grantID; self.familyID = familyID
        self.certificateThumbprint = certificateThumbprint; self.dpopJKT = dpopJKT; self.profile = profile
        self.authTime = authTime; self.acr = acr; self.claimsRequest = claimsRequest; self.expiresAt = expiresAt
        self.createdAt = createdAt; self.revokedAt = revokedAt; self.rotatedAt = rotatedAt
    }
}

public enum RefreshRotation: Sendable, Equatable {
    /// The token was live and is now marked rotated.
    case rotated(TokenRecord)
    /// The token had already been rotated out: the caller revokes the family.
    case replayed(TokenRecord)
    case unknown
}

public protocol TokenStore: Sendable {
    /// Saves one or more tokens durably, in one transaction, before the response is sent.
    func saveTokens(_ tokens: [TokenRecord]) async throws
    func token(hash: String) async throws -> TokenRecord?
    /// Atomically marks a live refresh token rotated (`UPDATE … WHERE rotated_at IS NULL AND revoked_at IS NULL`).
    func rotateRefreshToken(hash: String, at: Date) async throws -> RefreshRotation
    func revokeToken(hash: String, at: Date) async throws -> Bool
    /// Revocation cascades; each returns the number of tokens newly revoked.
    func revokeTokens(codeID: String, at: Date) async throws -> Int
    func revokeTokens(familyID: String, at: Date) async throws -> Int
    func revokeTokens(grantID: String, at: Date) async throws -> Int
}

/// A pushed authorization request (RFC 9126), stored until redeemed at the authorization endpoint.
public struct PushedRequestRecord: Sendable, Equatable {
    /// Keyed hash of the `request_uri` value.
    public var requestURIHash: String
    public var clientID: String
    /// The authorization request parameters, as validated at the PAR endpoint (JSON object of strings).
    public var parameters: [String: String]
    /// The verified request object's payload, when one was pushed.
    public var requestObjectClaims: JSONValue?
    public var profile: Profile
    public var expiresAt: Date
    public var createdAt: Date
    public var consumedAt: Date?
    /// The RFC 7638 thumbprint of the key of the DPoP proof sent with the push (RFC 9449 §10.1):
    /// the code is bound to it.
    public var dpopJKT: String?
    public init(requestURIHash: String, clientID: String, parameters: [String: String], requestObjectClaims: JSONValue?,
                profile: Profile, expiresAt: Date, createdAt: Date, consumedAt: Date? = nil, dpopJKT: String? = nil) {
        self.requestURIHash = requestURIHash; self.clientID = clientID; self.parameters = parameters
        self.requestObjectClaims = requestObjectClaims; self.profile = profile; self.expiresAt = expiresAt
        self.createdAt = createdAt; self.consumedAt = consumedAt; self.dpopJKT = dpopJKT
    }
}

public protocol PushedRequestStore: Sendable {
    func savePushedRequest(_ record: PushedRequestRecord) async throws
    /// Reads without consuming (the authorization page needs it before login completes).
    func pushedRequest(hash: String) async throws -> PushedRequestRecord?
    /// Atomically consumes; nil if unknown or already consumed.
    func consumePushedRequest(hash: String, at: Date) async throws -> PushedRequestRecord?
}

/// Remembers single-use identifiers (client assertion `jti`, DPoP proof `jti`) across nodes.
public protocol ReplayCache: Sendable {
    /// Records `(namespace, value)` until `expiresAt`. Returns false if it was already recorded (a replay).
    func remember(namespace: String, value: String, expiresAt: Date, now: Date) async throws -> Bool
    /// Whether any of `values` is recorded (and unexpired) in `namespace`: one read.
    func isRemembered(namespace: String, values: [String], now: Date) async throws -> Bool
}

/// A server signing key. The private key is PEM here and an encrypted envelope in the database
/// (`SQLStorage+Sealing.swift`); `status` drives rotation.
public struct SigningKeyRecord: Sendable, Equatable {
    public enum Status: String, Sendable, Codable {
        /// Published and used for new signatures.
        case active
        /// Published, not yet used for signing (rotation step 1).
        case next
        /// Published for verification only (rotation step 2), until retired.
        case retiring
        /// No longer published.
        case retired
    }
    public var kid: String
    public var algorithm: JWSAlgorithm
    public var privateKeyPEM: String
    /// Public JWK (JSON object) as published.
    public var publicJWK: JSONValue
    public var status: Status
    public var createdAt: Date
    public var activatedAt: Date?
    public var retiredAt: Date?
    public init(kid: String, algorithm: JWSAlgorithm, privateKeyPEM: String, publicJWK: JSONValue, status: Status,
                createdAt: Date, activatedAt: Date? = nil, retiredAt: Date? = nil) {
        self.kid = kid; self.algorithm = algorithm; self.privateKeyPEM = privateKeyPEM; self.publicJWK = publicJWK
        self.status = status; self.createdAt = createdAt; self.activatedAt = activatedAt; self.retiredAt = retiredAt
    }
}

/// One change to the signing keys, decided by the caller of `SigningKeyStore.changeKeys`.
public enum SigningKeyChange: Sendable, Equatable {
    case add(SigningKeyRecord)
    /// As `SigningKeyStore.updateKeyStatus` sets it.
    case setStatus(kid: String, SigningKeyRecord.Status, at: Date)
}

public protocol SigningKeyStore: Sendable {
    func saveKey(_ key: SigningKeyRecord) async throws
    func keys() async throws -> [SigningKeyRecord]
    func updateKeyStatus(kid: String, status: SigningKeyRecord.Status, at: Date) async throws
    /// Reads the keys, asks `decide` what to change, and writes that, in one transaction that no
    /// other `changeKeys` runs beside, from this node or any other: a decision is always taken on
    /// the keys as they are (nodes starting together on an empty database create one key set, two
    /// rotations at once do not both stage keys). Reads of the keys are not held up. Returns the
    /// keys afterwards. `decide` may be called more than once and must only compute; an error it
    /// throws changes nothing and is rethrown.
    func changeKeys(_ decide: @escaping @Sendable ([SigningKeyRecord]) throws -> [SigningKeyChange]) async throws -> [SigningKeyRecord]
}

/// A login session of the built-in login page (cookie holds the plain id; the store the hash).
public struct SessionRecord: Sendable, Equatable {
    public var idHash: String
    public var subject: String
    public var authTime: Date
    public var acr: String?
    public var amr: [String]
    /// CSRF token bound to the session (compared in constant time).
    public var csrfToken: String
    public var expiresAt: Date
    public init(idHash: String, subject: String, authTime: Date, acr: String?, amr: [String], csrfToken: String, expiresAt: Date) {
        self.idHash = idHash; self.subject = subject; self.authTime = authTime; self.acr = acr; self.amr = amr
        self.csrfToken = csrfToken; self.expiresAt = expiresAt
    }
}

public protocol SessionStore: Sendable {
    func saveSession(_ session: SessionRecord) async throws
    func session(idHash: String) async throws -> SessionRecord?
    func deleteSession(idHash: String) async throws
}

/// A validated authorization request waiting for the user to log in and consent.
public struct InteractionRecord: Sendable, Equatable {
    /// Keyed hash of the interaction id carried in the login/consent form.
    public var idHash: String
    public var clientID: String
    /// The validated request, serialized by the engine (JSON).
    public var request: JSONValue
    public var profile: Profile
    /// Set once the user logged in during this interaction.
    public var subject: String?
    public var expiresAt: Date
    public var createdAt: Date
    public init(idHash: String, clientID: String, request: JSONValue, profile: Profile, subject: String? = nil,
                expiresAt: Date, createdAt: Date) {
        self.idHash = idHash; self.clientID = clientID; self.request = request; self.profile = profile
        self.subject = subject; self.expiresAt = expiresAt; self.createdAt = createdAt
    }
}

public protocol InteractionStore: Sendable {
    func saveInteraction(_ record: InteractionRecord) async throws
    func interaction(idHash: String) async throws -> InteractionRecord?
    func setInteractionSubject(idHash: String, subject: String) async throws
    /// Atomically removes and returns it (a decision is taken once).
    func consumeInteraction(idHash: String) async throws -> InteractionRecord?
}

/// All stores, plus housekeeping.
public protocol Storage: ClientStore, UserStore, GrantStore, AuthorizationCodeStore, TokenStore, PushedRequestStore,
    ReplayCache, SigningKeyStore, SessionStore, InteractionStore
{
    /// Creates or upgrades the schema. Idempotent.
    func migrate() async throws
    /// Deletes expired rows; returns how many.
    func sweepExpired(now: Date) async throws -> Int
    /// A cheap round trip, for the health endpoint.
    func ping() async throws
    func shutdown() async throws
}
