import StrongroomCore

/// Decides the profile of a request, once, from (in precedence order) the service's forced profile,
/// the client's forced profile, then the attributes of the requested scopes (reference: "How to use
/// FAPI feature", steps 1–2). Several FAPI scopes: the strictest wins. None: plain OAuth/OIDC.
public struct ProfileSelector: Sendable {
    public let service: ServiceSettings

    public init(service: ServiceSettings) { self.service = service }

    public struct Decision: Sendable, Equatable, CustomStringConvertible {
        /// The strictest selected profile: the request's label in logs, pages and stored records.
        public var profile: Profile
        /// Every profile the request selects. Their rules all apply (`ProfileRequirements.union`),
        /// never only the strictest one's.
        public var profiles: Set<Profile>
        /// Why: "service forced", "client forced", "scope payments (fapi=rw)", "no FAPI scope".
        public var reason: String
        public var description: String { "\(profile.rawValue) (\(reason))" }
        public init(profile: Profile, profiles: Set<Profile>? = nil, reason: String) {
            self.profile = profile
            self.profiles = profiles ?? [profile]
            self.reason = reason
        }
    }

    public func select(scopes: [String], client: ClientMetadata?) -> Decision {
        if let forced = service.forcedProfile {
            return Decision(profile: forced, reason: "service forced")
        }
        var selected = Set<Profile>()
        var best: (Profile, String)? = nil
        func add(_ p: Profile, _ why: String) {
            selected.insert(p)
            if best == nil || p > best!.0 { best = (p, why) }
        }
        // A client's forced profile is a floor: it can tighten what its scopes select, never loosen it.
        if let forced = client?.forcedProfile { add(forced, "client forced") }
        for name in scopes {
            guard let def = service.scope(named: name) else { continue }
            for attr in def.attributes {
                guard let p = Profile.selected(byAttribute: attr.key, value: attr.value) else { continue }
                add(p, "scope \(name) (\(attr.key)=\(attr.value))")
            }
        }
        if scopes.isEmpty, let client {
            // No scope named at all: every profile this client could be held to (leaving `scope`
            // out is no way to escape a profile).
            for p in profiles(for: client) where p != .oauth { add(p, "no scope requested: the client's strictest profile") }
        }
        selected.remove(.oauth)
        if let best, !selected.isEmpty { return Decision(profile: best.0, profiles: selected, reason: best.1) }
        return Decision(profile: .oauth, reason: "no FAPI scope")
    }

    /// Every FAPI profile a client's allowed scopes can select (for configuration-time checks).
    /// A client without a `scope` restriction may request every supported scope.
    public func profiles(for client: ClientMetadata) -> Set<Profile> {
        if let forced = service.forcedProfile { return [forced] }
        let names = client.allowedScopes ?? service.scopes.map(\.name)
        var out = Set(names.compactMap { service.scope(named: $0)?.profile })
        if let forced = client.forcedProfile { out.insert(forced) }
        return out
    }
}
