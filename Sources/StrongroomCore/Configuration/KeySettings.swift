import Foundation

/// `keys`: the key-encryption key (KEK) under which server private keys and `client_secret_jwt`
/// secrets are stored encrypted in the database, and earlier KEKs kept for re-keying.
///
/// The KEK never comes from the database. It is given as a file (`encryption_key_file`, or
/// `STRONGROOM_KEY_ENCRYPTION_KEY_FILE`), in the environment (`STRONGROOM_KEY_ENCRYPTION_KEY`), or
/// inline (`encryption_key`, discouraged: the configuration file is then as secret as the key).
/// Commands that open the database refuse to run without one (docs/operations.md).
public struct KeySettings: Sendable, Codable, Equatable {
    /// Base64 of 32 random bytes.
    public var encryptionKey: String?
    /// A file holding the base64 key (lines starting with `#` are comments).
    public var encryptionKeyFile: String?
    /// Earlier KEKs, base64: they decrypt, never encrypt (until `strongroom keys rekey` is done).
    public var previousEncryptionKeys: [String]
    /// Files of earlier KEKs.
    public var previousEncryptionKeyFiles: [String]

    public init(encryptionKey: String? = nil, encryptionKeyFile: String? = nil,
                previousEncryptionKeys: [String] = [], previousEncryptionKeyFiles: [String] = []) {
        self.encryptionKey = encryptionKey
        self.encryptionKeyFile = encryptionKeyFile
        self.previousEncryptionKeys = previousEncryptionKeys
        self.previousEncryptionKeyFiles = previousEncryptionKeyFiles
    }

    enum CodingKeys: String, CodingKey {
        case encryptionKey = "encryption_key"
        case encryptionKeyFile = "encryption_key_file"
        case previousEncryptionKeys = "previous_encryption_keys"
        case previousEncryptionKeyFiles = "previous_encryption_key_files"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        encryptionKey = try c.decodeIfPresent(String.self, forKey: .encryptionKey)
        encryptionKeyFile = try c.decodeIfPresent(String.self, forKey: .encryptionKeyFile)
        previousEncryptionKeys = try c.decodeIfPresent([String].self, forKey: .previousEncryptionKeys) ?? []
        previousEncryptionKeyFiles = try c.decodeIfPresent([String].self, forKey: .previousEncryptionKeyFiles) ?? []
    }

    /// Whether a current KEK is configured (not whether it is readable).
    public var hasEncryptionKey: Bool { encryptionKey != nil || encryptionKeyFile != nil }

    /// The message of the configuration error when no KEK is configured.
    public static let missingKeyMessage = """
        is required: server signing keys and client_secret_jwt secrets are stored encrypted under it. \
        Create one with `openssl rand -base64 32 > kek.key` (mode 0600, kept out of the database backups), \
        then set keys.encryption_key_file or STRONGROOM_KEY_ENCRYPTION_KEY_FILE (docs/operations.md)
        """

    /// Raw key bytes, each with the configuration key it came from (for error messages).
    public struct Material: Sendable {
        public struct Item: Sendable {
            public var source: String
            public var bytes: [UInt8]
        }
        public var current: Item?
        public var previous: [Item]
    }

    /// Reads and decodes the configured keys (files are read now). Lengths are checked by the
    /// caller that makes AES keys of them. `extraPreviousFiles`: more earlier KEKs (`--old-key-file`).
    public func keyMaterial(extraPreviousFiles: [String] = []) throws -> Material {
        var current: Material.Item?
        if let v = encryptionKey {
            current = .init(source: "keys.encryption_key", bytes: try Self.decode(v, source: "keys.encryption_key"))
        } else if let path = encryptionKeyFile {
            current = .init(source: "keys.encryption_key_file", bytes: try Self.read(path, source: "keys.encryption_key_file"))
        }
        var previous: [Material.Item] = []
        for (i, v) in previousEncryptionKeys.enumerated() {
            let source = "keys.previous_encryption_keys[\(i)]"
            previous.append(.init(source: source, bytes: try Self.decode(v, source: source)))
        }
        for (i, path) in previousEncryptionKeyFiles.enumerated() {
            let source = "keys.previous_encryption_key_files[\(i)]"
            previous.append(.init(source: source, bytes: try Self.read(path, source: source)))
        }
        for path in extraPreviousFiles {
            previous.append(.init(source: "--old-key-file \(path)", bytes: try Self.read(path, source: "--old-key-file")))
        }
        return Material(current: current, previous: previous)
    }

    static func read(_ path: String, source: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(key: source, message: "cannot read \(path)")
        }
        guard data.count < 64 * 1024 else { throw ConfigurationError(key: source, message: "\(path) is too large for a key file") }
        let text = String(decoding: data, as: UTF8.self)
        let lines = text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard lines.count == 1 else {
            throw ConfigurationError(key: source, message: "\(path) must hold one line of base64 (plus # comment lines)")
        }
        return try decode(lines[0], source: source)
    }

    static func decode(_ text: String, source: String) throws -> [UInt8] {
        guard let data = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw ConfigurationError(key: source, message: "must be base64 of 32 random bytes (openssl rand -base64 32)")
        }
        return Array(data)
    }

    /// A key file as `strongroom` reads it: `#` comment lines, then the base64 key.
    public static func keyFileText(base64: String, comment: [String]) -> String {
        comment.map { "# " + $0 + "\n" }.joined() + base64 + "\n"
    }
}
