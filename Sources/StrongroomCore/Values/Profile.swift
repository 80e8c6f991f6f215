/// The security profile applied to one request, decided once by `ProfileSelector`.
///
/// Ordered by strictness: when several scopes select different profiles, the strictest wins.
public enum Profile: String, Sendable, Codable, CaseIterable, Comparable {
    /// Plain OAuth 2.0 / OpenID Connect.
    case oauth = "oauth"
    /// FAPI 1.0 Part 1: Baseline ("read-only", scope attribute `fapi=r`).
    case fapi1Baseline = "fapi1-baseline"
    /// FAPI 1.0 Part 2: Advanced ("read-write", scope attribute `fapi=rw`).
    case fapi1Advanced = "fapi1-advanced"
    /// FAPI 2.0 Security Profile (scope attribute `fapi2=sp`).
    case fapi2Security = "fapi2-security"
    /// FAPI 2.0 Message Signing of authorization requests: signed request objects through PAR
    /// (scope attribute `fapi2=ms-authreq`), on top of the Security Profile.
    case fapi2SignedRequests = "fapi2-ms-authreq"
    /// FAPI 2.0 Message Signing of authorization responses: JARM (`fapi2=ms-authres`), on top of
    /// the Security Profile.
    case fapi2SignedResponses = "fapi2-ms-authres"
    /// FAPI 2.0 Message Signing of both (scope attribute `fapi2=ms`).
    case fapi2MessageSigning = "fapi2-message-signing"

    var rank: Int {
        switch self {
        case .oauth: 0
        case .fapi1Baseline: 1
        case .fapi1Advanced: 2
        case .fapi2Security: 3
        case .fapi2SignedRequests: 4
        case .fapi2SignedResponses: 5
        case .fapi2MessageSigning: 6
        }
    }
    public static func < (a: Profile, b: Profile) -> Bool { a.rank < b.rank }

    public var displayName: String {
        switch self {
        case .oauth: "OAuth 2.0 / OpenID Connect"
        case .fapi1Baseline: "FAPI 1.0 Baseline"
        case .fapi1Advanced: "FAPI 1.0 Advanced"
        case .fapi2Security: "FAPI 2.0 Security Profile"
        case .fapi2SignedRequests: "FAPI 2.0 Message Signing (authorization requests)"
        case .fapi2SignedResponses: "FAPI 2.0 Message Signing (authorization responses)"
        case .fapi2MessageSigning: "FAPI 2.0 Message Signing"
        }
    }

    /// The label the consent page shows.
    public var shortName: String {
        switch self {
        case .oauth: "OAuth 2.0"
        case .fapi1Baseline: "FAPI 1.0 Baseline"
        case .fapi1Advanced: "FAPI 1.0 Advanced"
        case .fapi2Security: "FAPI 2.0"
        case .fapi2SignedRequests, .fapi2SignedResponses, .fapi2MessageSigning: "FAPI 2.0 Message Signing"
        }
    }

    public var isFAPI: Bool { self != .oauth }

    /// The profile a scope attribute selects, if any (`fapi=r`, `fapi=rw`, `fapi2=sp`,
    /// `fapi2=ms-authreq`, `fapi2=ms-authres`, `fapi2=ms`).
    public static func selected(byAttribute key: String, value: String) -> Profile? {
        switch (key, value) {
        case ("fapi", "r"): .fapi1Baseline
        case ("fapi", "rw"): .fapi1Advanced
        case ("fapi2", "sp"): .fapi2Security
        case ("fapi2", "ms-authreq"): .fapi2SignedRequests
        case ("fapi2", "ms-authres"): .fapi2SignedResponses
        case ("fapi2", "ms"): .fapi2MessageSigning
        default: nil
        }
    }
}
