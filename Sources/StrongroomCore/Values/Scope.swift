/// A key/value attribute attached to a scope (reference: Authlete scope attributes).
public struct ScopeAttribute: Sendable, Codable, Hashable {
    public var key: String
    public var value: String
    public init(key: String, value: String) { self.key = key; self.value = value }
}

/// A scope the service supports, with its attributes and the description shown on the consent page.
public struct ScopeDefinition: Sendable, Codable, Hashable {
    public var name: String
    public var description: String
    public var attributes: [ScopeAttribute]
    /// Offered in discovery's `scopes_supported` (default true).
    public var discoverable: Bool

    public init(name: String, description: String = "", attributes: [ScopeAttribute] = [], discoverable: Bool = true) {
        self.name = name
        self.description = description
        self.attributes = attributes
        self.discoverable = discoverable
    }

    enum CodingKeys: String, CodingKey { case name, description, attributes, discoverable }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        description = try c.decodeIfPresent(String.self, forKey: .description) ?? ""
        // Attributes may be written as a list of {key, value} or as a map {fapi: rw}.
        if let list = try? c.decodeIfPresent([ScopeAttribute].self, forKey: .attributes) {
            attributes = list
        } else if let map = try? c.decodeIfPresent([String: String].self, forKey: .attributes) {
            attributes = map.sorted { $0.key < $1.key }.map { ScopeAttribute(key: $0.key, value: $0.value) }
        } else if c.contains(.attributes), try !c.decodeNil(forKey: .attributes) {
            throw DecodingError.typeMismatch([ScopeAttribute].self, .init(
                codingPath: c.codingPath + [CodingKeys.attributes],
                debugDescription: "attributes must be a list of {key, value} or a map such as {fapi: rw}"))
        } else {
            attributes = []
        }
        discoverable = try c.decodeIfPresent(Bool.self, forKey: .discoverable) ?? true
    }

    /// The strictest profile this scope's attributes select, if any.
    public var profile: Profile? {
        attributes.compactMap { Profile.selected(byAttribute: $0.key, value: $0.value) }.max()
    }
}

/// Splits a space-delimited scope string (RFC 6749 §3.3), keeping first-seen order, dropping duplicates.
public func parseScopes(_ value: String?) -> [String] {
    guard let value else { return [] }
    var seen = Set<String>()
    var out: [String] = []
    for part in value.split(separator: " ", omittingEmptySubsequences: true) {
        let s = String(part)
        if seen.insert(s).inserted { out.append(s) }
    }
    return out
}
