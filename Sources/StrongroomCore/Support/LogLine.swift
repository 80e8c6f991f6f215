import Foundation
import Logging

/// Strongroom's log handler: one line per event on a stream (stderr), `key=value` metadata.
///
/// Log lines carry names and values that callers chose (scopes, grant types, paths, client ids,
/// registration metadata). Every character that could end or forge a line — CR, LF, other C0 and
/// C1 controls, DEL, the Unicode line and paragraph separators — is written escaped (`\n`,
/// `\u{85}`), and a value with spaces, quotes or `=` is quoted, so a caller can never add a line of
/// its choosing or make one field look like another. This is the only place a log line is written.
public struct LogLineHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    let write: @Sendable (String) -> Void

    public init(label: String, write: @escaping @Sendable (String) -> Void = LogLineHandler.standardError) {
        self.label = label
        self.write = write
    }

    public static let standardError: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data(line.utf8))
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { _, new in new } }
        if let extra = event.metadata { all.merge(extra) { _, new in new } }
        write(Self.format(date: Date(), level: event.level, label: label, message: "\(event.message)", metadata: all))
    }

    /// The line (with its newline) for one event.
    public static func format(date: Date, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var line = timestamp(date) + " " + level.rawValue + " " + escape(label) + ": " + escape(message)
        for key in metadata.keys.sorted() {
            line += " " + escape(key).replacingOccurrences(of: "=", with: "\\x3d") + "=" + quoted(render(metadata[key]!))
        }
        return line + "\n"
    }

    static func render(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let s): s
        case .stringConvertible(let c): c.description
        case .array(let a): "[" + a.map { render($0) }.joined(separator: ", ") + "]"
        case .dictionary(let d): "{" + d.keys.sorted().map { "\($0): \(render(d[$0]!))" }.joined(separator: ", ") + "}"
        }
    }

    /// Control and line-breaking characters as escapes; everything else as it is.
    public static func escape(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: needsEscape) else { return s }
        var out = ""
        for u in s.unicodeScalars {
            switch u {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\\": out += "\\\\"
            default: out += needsEscape(u) ? "\\u{" + String(u.value, radix: 16) + "}" : String(u)
            }
        }
        return out
    }

    static func needsEscape(_ u: Unicode.Scalar) -> Bool {
        switch u.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029, 0x5C: true
        default: false
        }
    }

    /// A value quoted when it holds a space, `"` or `=`, so fields stay apart.
    static func quoted(_ s: String) -> String {
        let e = escape(s)
        guard e.isEmpty || e.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) else { return e }
        return "\"" + e.replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    static func timestamp(_ d: Date) -> String {
        Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(d)
    }
}
