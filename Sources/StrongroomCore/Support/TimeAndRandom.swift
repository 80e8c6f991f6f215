import Foundation

/// The clock, injected so expiry and replay rules are testable.
public protocol TimeSource: Sendable {
    func now() -> Date
}

public struct SystemTime: TimeSource {
    public init() {}
    public func now() -> Date { Date() }
}

/// A clock tests can move.
public final class FixedTime: TimeSource, @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date
    public init(_ date: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = date }
    public func now() -> Date { lock.withLock { current } }
    public func advance(_ seconds: TimeInterval) { lock.withLock { current += seconds } }
    public func set(_ date: Date) { lock.withLock { current = date } }
}

/// Randomness for tokens, codes, `request_uri`s and identifiers: the system CSPRNG.
public protocol RandomSource: Sendable {
    func bytes(_ count: Int) -> [UInt8]
}

public struct SystemRandom: RandomSource {
    public init() {}
    public func bytes(_ count: Int) -> [UInt8] {
        // SystemRandomNumberGenerator reads the OS CSPRNG (getrandom on Linux), 8 bytes per call.
        var rng = SystemRandomNumberGenerator()
        var out = [UInt8]()
        out.reserveCapacity(count + 8)
        while out.count < count {
            withUnsafeBytes(of: rng.next() as UInt64) { out.append(contentsOf: $0) }
        }
        out.removeLast(out.count - count)
        return out
    }
}

extension RandomSource {
    /// A URL-safe token with `bits` of entropy (≥ 128 for anything a client presents back).
    public func token(bits: Int = 256) -> String {
        Base64URL.encode(bytes(max(16, bits / 8)))
    }
}

public enum Base64URL {
    public static func encode<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
    public static func encode(_ string: String) -> String { encode(Array(string.utf8)) }

    /// Strict base64url decoding (no padding, no standard-alphabet characters, no whitespace).
    public static func decode(_ string: some StringProtocol) -> Data? {
        guard string.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            return nil
        }
        var s = string.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        let rem = s.count % 4
        if rem == 1 { return nil }
        if rem > 0 { s += String(repeating: "=", count: 4 - rem) }
        return Data(base64Encoded: s)
    }
}
