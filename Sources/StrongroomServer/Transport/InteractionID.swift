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
        return UUID().uuidString.lowercased()
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
