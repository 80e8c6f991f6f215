import StrongroomCore

/// Decides the profile of a request, once, from (in precedence order) the service's forced profile,
/// the client's forced profile, then the attributes of the requested scopes (reference: "How to use
/// FAPI feature", steps 1–2). Several FAPI scopes: the strictest wins. None: plain OAuth/OIDC.
public struct ProfileSelector: Sendable {
    public let service: ServiceSettings

    public init(service: ServiceSettings) { self.service = service }

    public struct Decision: Sendable, Equatable, CustomStringConvertible {
        public var profile: Profile
        /// Why: "service forced", "client forced", "scope payments (fapi=rw)", "no FAPI scope".
        public var reason: String
        public var description: String { "\(profile.rawValue) (\(reason))" }
    }

    public func select(scopes: [String], client: ClientMetadata?) -> Decision {
        if let forced = service.forcedProfile {
            return Decision(profile: forced, reason: "service forced")
        }
        var best: (Profile, String)? = nil
        // A client's forced profile is a floor: it can tighten what its scopes select, never loosen it.
        if let forced = client?.forcedProfile { best = (forced, "client forced") }
        for name in scopes {
            guard let def = service.scope(named: name) else { continue }
            for attr in def.attributes {
                guard let p = Profile.selected(byAttribute: attr.key, value: attr.value) else { continue }
                if best == nil || p > best!.0 {
                    best = (p, "scope \(name) (\(attr.key)=\(attr.value))")
                }
            }
        }
        if scopes.isEmpty, let client {
            // No scope named at all: the strictest profile this client could be held to.
            let strictest = strictestProfile(for: client)
            if best == nil || strictest > best!.0 { best = (strictest, "no scope requested: the client's strictest profile") }
        }
        if let best, best.0 != .oauth { return Decision(profile: best.0, reason: best.1) }
        return Decision(profile: .oauth, reason: "no FAPI scope")
    }

    /// The strictest profile a client's allowed scopes can select (for configuration-time checks).
    /// A client without a `scope` restriction may request every supported scope.
    public func strictestProfile(for client: ClientMetadata) -> Profile {
        profiles(for: client).max() ?? .oauth
    }

    /// Every FAPI profile a client's allowed scopes can select.
    public func profiles(for client: ClientMetadata) -> Set<Profile> {
        if let forced = service.forcedProfile { return [forced] }
        let names = client.allowedScopes ?? service.scopes.map(\.name)
        var out = Set(names.compactMap { service.scope(named: $0)?.profile })
        if let forced = client.forcedProfile { out.insert(forced) }
        return out
    }
}
