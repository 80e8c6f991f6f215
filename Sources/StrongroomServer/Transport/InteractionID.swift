import Foundation

/// `x-fapi-interaction-id` handling (FAPI 1.0 Part 1 §6.2.1 item 11, FAPI 2.0 Security Profile §5.3.3):
/// the client may send an RFC 4122 UUID; the server echoes it, or mints one, in every response.
public enum InteractionID {
    public static let headerName = "x-fapi-interaction-id"

    /// The id to use for a request: the client's value when it is a UUID (8-4-4-4-12 hex digits,
    /// either case), otherwise a fresh random UUID. Anything else (overlong, injected text) is not echoed.
    public static func resolve(_ presented: String?) -> String {
        if let presented {
            let trimmed = presented.trimmingCharacters(in: .whitespaces)
            if isValid(trimmed) { return trimmed }
        }
        return minted()
    }

    /// A random (version 4) UUID from the system generator (getrandom). Foundation's `UUID()` on
    /// Linux opens and reads /dev/urandom on every call: a file open per response that sent no id.
    static func minted() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        var b = withUnsafeBytes(of: high.bigEndian, Array.init) + withUnsafeBytes(of: low.bigEndian, Array.init)
        b[6] = (b[6] & 0x0F) | 0x40  // version 4
        b[8] = (b[8] & 0x3F) | 0x80  // RFC 4122 variant
        let uuid = UUID(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))
        return uuid.uuidString.lowercased()
    }

    public static func isValid(_ value: String) -> Bool {
        let utf8 = Array(value.utf8)
        guard utf8.count == 36 else { return false }
        for (i, c) in utf8.enumerated() {
            switch i {
            case 8, 13, 18, 23:
                guard c == UInt8(ascii: "-") else { return false }
            default:
                let hex = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
                guard hex else { return false }
            }
        }
        return true
    }
}
