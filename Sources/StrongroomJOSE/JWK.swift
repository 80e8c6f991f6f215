import Crypto
import Foundation
import StrongroomCore

/// A JWK as received or published (RFC 7517). `raw` keeps every member, including unknown ones.
///
/// Construction checks the members RFC 7518 §6 requires for the key type and that they are strict
/// base64url, so later code can decode them without re-checking.
public struct JWK: Sendable, Equatable {
    public let raw: [String: JSONValue]
    public var kty: String
    public var kid: String?
    public var use: String?
    public var alg: String?
    public var keyOps: [String]?
    public var x5c: [String]?

    /// Members that only private (or symmetric) keys carry (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
    static let privateMembers: Set<String> = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]

    public init(json: JSONValue) throws(JOSEError) {
        guard let object = json.objectValue else { throw .malformed("JWK is not a JSON object") }
        try self.init(object: object)
    }

    init(object: [String: JSONValue]) throws(JOSEError) {
        guard let kty = object["kty"]?.stringValue else { throw .malformed("JWK has no string \"kty\"") }
        func optionalString(_ name: String) throws(JOSEError) -> String? {
            guard let value = object[name] else { return nil }
            guard let s = value.stringValue else { throw .malformed("JWK member \"\(name)\" is not a string") }
            return s
        }
        func optionalStrings(_ name: String) throws(JOSEError) -> [String]? {
            guard let value = object[name] else { return nil }
            guard let array = value.arrayValue else { throw .malformed("JWK member \"\(name)\" is not an array") }
            var out: [String] = []
            for item in array {
                guard let s = item.stringValue else { throw .malformed("JWK member \"\(name)\" has a non-string item") }
                out.append(s)
            }
            return out
        }
        func requireB64(_ name: String) throws(JOSEError) -> Data {
            guard let s = object[name]?.stringValue else { throw .malformed("\(kty) JWK lacks \"\(name)\"") }
            guard let data = Base64URL.decode(s), !data.isEmpty else {
                throw .malformed("JWK member \"\(name)\" is not base64url")
            }
            return data
        }

        switch kty {
        case "RSA":
            _ = try requireB64("n")
            _ = try requireB64("e")
        case "EC":
            guard let crv = object["crv"]?.stringValue else { throw .malformed("EC JWK lacks \"crv\"") }
            let x = try requireB64("x")
            let y = try requireB64("y")
            // RFC 7518 §6.2.1.2: coordinates are the full field size, leading zeros kept.
            if let size = JWK.ecCoordinateSize[crv], x.count != size || y.count != size {
                throw .malformed("EC JWK coordinates have the wrong length for \(crv)")
            }
        case "OKP":
            guard let crv = object["crv"]?.stringValue else { throw .malformed("OKP JWK lacks \"crv\"") }
            let x = try requireB64("x")
            if crv == "Ed25519", x.count != 32 { throw .malformed("Ed25519 JWK \"x\" is not 32 bytes") }
        case "oct":
            _ = try requireB64("k")
        default:
            throw .malformed("unsupported kty \"\(kty)\"")
        }
        for member in ["d", "p", "q", "dp", "dq", "qi"] where object[member] != nil {
            _ = try requireB64(member)
        }

        self.raw = object
        self.kty = kty
        self.kid = try optionalString("kid")
        self.use = try optionalString("use")
        self.alg = try optionalString("alg")
        self.keyOps = try optionalStrings("key_ops")
        self.x5c = try optionalStrings("x5c")
    }

    static let ecCoordinateSize: [String: Int] = ["P-256": 32, "P-384": 48, "P-521": 66]

    /// The key as JSON, all members.
    public var json: JSONValue { .object(raw) }

    /// The same key without private members (what may be published).
    public var publicOnly: JWK {
        JWK(unchecked: raw.filter { !JWK.privateMembers.contains($0.key) }, from: self)
    }

    public var isPrivate: Bool { raw["d"] != nil || raw["k"] != nil }

    /// RFC 7638 JWK thumbprint: SHA-256 over the required members in lexicographic order, no whitespace.
    public func thumbprint() -> String {
        let required: [String]
        switch kty {
        case "RSA": required = ["e", "kty", "n"]
        case "EC": required = ["crv", "kty", "x", "y"]
        case "OKP": required = ["crv", "kty", "x"]
        case "oct": required = ["k", "kty"]
        default: required = ["kty"]
        }
        let members = required.map { name -> String in
            let value = raw[name]?.stringValue ?? ""
            return "\(JSONValue.string(name).serializedString()):\(JSONValue.string(value).serializedString())"
        }
        let canonical = "{" + members.joined(separator: ",") + "}"
        return Base64URL.encode(SHA256.hash(data: Data(canonical.utf8)))
    }

    /// Modulus length in bits for RSA keys (leading zero octets ignored).
    public var rsaModulusBits: Int? {
        guard kty == "RSA", let n = member("n") else { return nil }
        let bytes = n.drop(while: { $0 == 0 })
        guard let first = bytes.first else { return 0 }
        return (bytes.count - 1) * 8 + (8 - first.leadingZeroBitCount)
    }

    /// `crv` for EC and OKP keys.
    public var curve: String? { raw["crv"]?.stringValue }

    /// The size in bits of an EC key's curve (`P-256` → 256, `secp256k1` → 256; a NIST curve
    /// name gives its number), nil for other key types or a curve whose size is not known.
    public var ecCurveBits: Int? {
        guard raw["kty"]?.stringValue == "EC", let crv = curve else { return nil }
        if crv == "secp256k1" { return 256 }
        guard crv.hasPrefix("P-") else { return nil }
        return Int(crv.dropFirst(2))
    }

    /// A base64url member, decoded.
    func member(_ name: String) -> Data? {
        raw[name]?.stringValue.flatMap { Base64URL.decode($0) }
    }

    /// Copy with members set (used when publishing: kid, use, alg).
    public func with(_ members: [String: JSONValue]) -> JWK {
        var object = raw
        for (k, v) in members { object[k] = v }
        // Members already validated; the only ones we set are strings.
        return (try? JWK(object: object)) ?? self
    }

    private init(unchecked raw: [String: JSONValue], from other: JWK) {
        self.raw = raw
        self.kty = other.kty
        self.kid = other.kid
        self.use = other.use
        self.alg = other.alg
        self.keyOps = other.keyOps
        self.x5c = other.x5c
    }
}

/// A client's JWK Set (RFC 7517 §5), parsed leniently: keys for encryption, of unknown type, or
/// with malformed members are skipped (and recorded) rather than failing the whole set, because a
/// client's set legitimately holds keys we do not use.
public struct JWKSet: Sendable, Equatable {
    public var keys: [JWK]
    /// One line per skipped key: its index, kid if any, and why.
    public var skipped: [String]

    public init(json: JSONValue) throws(JOSEError) {
        guard let object = json.objectValue else { throw .malformed("JWK Set is not a JSON object") }
        guard let array = object["keys"]?.arrayValue else { throw .malformed("JWK Set has no \"keys\" array") }
        var keys: [JWK] = []
        var skipped: [String] = []
        for (index, item) in array.enumerated() {
            let label = "keys[\(index)]" + (item["kid"]?.stringValue.map { " (kid \($0))" } ?? "")
            let jwk: JWK
            do { jwk = try JWK(json: item) } catch {
                skipped.append("\(label): \(error)")
                continue
            }
            if jwk.use == "enc" {
                skipped.append("\(label): use is enc")
                continue
            }
            if jwk.kty == "oct" {
                skipped.append("\(label): symmetric keys are not accepted in a JWK Set")
                continue
            }
            // A private key published by mistake: keep only its public part.
            keys.append(jwk.publicOnly)
        }
        self.keys = keys
        self.skipped = skipped
    }

    public init(keys: [JWK]) {
        self.keys = keys
        self.skipped = []
    }

    public var json: JSONValue { .object(["keys": .array(keys.map(\.json))]) }
}
