import Foundation
import StrongroomCore

/// The facts of an authorization request (after request-object / PAR resolution and redirect URI
/// validation) that the authorization checks judge.
public struct AuthorizationFacts: Sendable {
    public var clientID: String
    public var client: ClientMetadata
    public var responseType: ResponseType
    public var responseMode: ResponseMode?
    /// Whether `redirect_uri` was present in the (effective) request.
    public var redirectURIPresent: Bool
    public var redirectURI: String
    public var scopes: [String]
    public var state: String?
    public var nonce: String?
    public var codeChallenge: String?
    public var codeChallengeMethod: String?
    /// The request came through PAR (`request_uri` from the PAR endpoint).
    public var viaPAR: Bool
    /// The verified request object's facts, when one was used (by value or pushed).
    public var requestObject: RequestObjectFacts?
    public var now: Date
    public var clockSkew: Int

    public init(clientID: String, client: ClientMetadata, responseType: ResponseType, responseMode: ResponseMode?,
                redirectURIPresent: Bool, redirectURI: String, scopes: [String], state: String?, nonce: String?,
                codeChallenge: String?, codeChallengeMethod: String?, viaPAR: Bool, requestObject: RequestObjectFacts?,
                now: Date, clockSkew: Int) {
        self.clientID = clientID; self.client = client; self.responseType = responseType; self.responseMode = responseMode
        self.redirectURIPresent = redirectURIPresent; self.redirectURI = redirectURI; self.scopes = scopes; self.state = state
        self.nonce = nonce; self.codeChallenge = codeChallenge; self.codeChallengeMethod = codeChallengeMethod
        self.viaPAR = viaPAR; self.requestObject = requestObject; self.now = now; self.clockSkew = clockSkew
    }

    public var requestsOpenID: Bool { scopes.contains("openid") }
}

/// The time and audience claims of a verified request object.
public struct RequestObjectFacts: Sendable, Equatable {
    public var algorithm: JWSAlgorithm
    public var exp: Date?
    public var nbf: Date?
    public var audiences: [String]
    public var issuer: String?
    /// The names of the claims it carries.
    public var claimNames: Set<String>
    public init(algorithm: JWSAlgorithm, exp: Date?, nbf: Date?, audiences: [String], issuer: String?, claimNames: Set<String> = []) {
        self.algorithm = algorithm; self.exp = exp; self.nbf = nbf; self.audiences = audiences; self.issuer = issuer
        self.claimNames = claimNames
    }
}
