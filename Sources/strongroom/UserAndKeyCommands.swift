import ArgumentParser
import Foundation
import StrongroomCore
import Logging
import StrongroomEngine
import StrongroomJOSE
import StrongroomStorage

/// `strongroom users add|list|remove`
struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users",
        abstract: "Manage users of the built-in login.",
        subcommands: [UsersAddCommand.self, UsersListCommand.self, UsersRemoveCommand.self])
}

struct UsersAddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add a user. Without --password or --password-stdin, the password is asked for on the terminal.")

    @OptionGroup var options: ConfigOption

    @Argument(help: "Login name.")
    var username: String

    @Flag(name: .customLong("password-stdin"), help: "Read the password from standard input.")
    var passwordStdin = false

    @Option(help: "The password (visible in the process list and shell history: prefer --password-stdin).")
    var password: String?

    @Option(help: ArgumentHelp(#"OpenID claims as a JSON object, e.g. '{"name":"Ada","email":"ada@example.com"}'."#, valueName: "json"))
    var claims: String?

    func validate() throws {
        if passwordStdin && password != nil { throw ValidationError("give --password-stdin or --password, not both") }
    }

    func run() async throws {
        try await CLI.guarded {
            let config = try CLI.loadConfiguration(options.config)
            let secret: String
            if passwordStdin {
                let data = FileHandle.standardInput.readDataToEndOfFile()
                var text = String(decoding: data, as: UTF8.self)
                while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
                secret = text
            } else if let password {
                secret = password
            } else if let typed = CLI.promptPassword("Password for \(username): ") {
                secret = typed
            } else {
                throw CLIFailure("no password: give --password-stdin or --password")
            }
            var claimValues: [String: JSONValue] = [:]
            if let claims {
                guard let object = JSONValue.parse(claims)?.objectValue else {
                    throw CLIFailure("--claims must be a JSON object")
                }
                claimValues = object
            }
            let user = try await CLI.withEngine(config) { engine in
                do {
                    return try await engine.users.add(username: username, password: secret, claims: claimValues)
                } catch let error as ConfigurationError {
                    // The directory names the argument at fault (username, password): not the file's fault.
                    throw CLIFailure(error.description)
                }
            }
            print("added user \(user.username) (sub \(user.subject))")
        }
    }
}

struct UsersListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List users.")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        try await CLI.guarded {
            let config = try CLI.loadConfiguration(options.config)
            let users = try await CLI.withEngine(config) { engine in try await engine.users.list() }
            let rows = users.sorted { $0.username < $1.username }.map {
                [$0.username, $0.subject, CLI.timestamp($0.createdAt), $0.claims.keys.sorted().joined(separator: ",")]
            }
            print(CLI.table(["USERNAME", "SUB", "CREATED", "CLAIMS"], rows))
        }
    }
}

struct UsersRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a user.")

    @OptionGroup var options: ConfigOption

    @Argument(help: "Login name.")
    var username: String

    func run() async throws {
        try await CLI.guarded {
            let config = try CLI.loadConfiguration(options.config)
            let removed = try await CLI.withEngine(config) { engine in try await engine.users.remove(username: username) }
            guard removed else {
                CLI.printError("no user \(username)")
                throw ExitCode.failure
            }
            print("removed \(username)")
            if config.users.contains(where: { $0.username == username }) {
                CLI.printError("note: \(username) is declared in \(options.config); it is created again at the next start unless removed there too.")
            }
        }
    }
}

/// `strongroom keys list|rotate|retire|rekey`
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "The server's signing keys (shared by every node through the database).",
        discussion: """
        Rotation is two-phase so relying parties can fetch a new key before it signs: the first \
        `rotate` stages a `next` key per algorithm (published, not signing); the second promotes it \
        to `active` and the old key to `retiring` (published for verification), and is refused \
        until every running server can have published the staged keys (\(Int(KeyManager.propagation)) seconds); `retire` \
        retires `retiring` keys, which stay published until everything they signed has expired \
        (PUBLISHED UNTIL). Running servers re-read the keys every \(Int(KeyManager.reloadInterval)) seconds.

        `rekey` re-encrypts the stored private keys and client_secret_jwt secrets under the current         key encryption key (keys.encryption_key_file), after that key was changed.
        """,
        subcommands: [KeysListCommand.self, KeysRotateCommand.self, KeysRetireCommand.self, KeysRekeyCommand.self])

    static func table(_ keys: [SigningKeyRecord], _ manager: KeyManager) -> String {
        CLI.table(["KID", "ALG", "STATUS", "CREATED", "PUBLISHED UNTIL"], keys.map {
            [$0.kid, $0.algorithm.rawValue, $0.status.rawValue, CLI.timestamp($0.createdAt),
             manager.publishedUntil($0).map(CLI.timestamp) ?? "-"]
        })
    }
}

struct KeysListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List signing keys.")
    @OptionGroup var options: ConfigOption
    func run() async throws {
        try await CLI.guarded {
            let config = try CLI.loadConfiguration(options.config)
            print(try await CLI.withEngine(config) { engine in KeysCommand.table(try await engine.keys.list(), engine.keys) })
        }
    }
}

struct KeysRotateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate", abstract: "Stage new keys (first run) or promote staged keys (second run).")
    @OptionGroup var options: ConfigOption
    func run() async throws {
        try await CLI.guarded {
            let config = try CLI.loadConfiguration(options.config)
            print(try await CLI.withEngine(config) { engine in KeysCommand.table(try await engine.keys.rotate(), engine.keys) })
        }
    }
}

struct KeysRetireCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "retire", abstract: "Stop publishing rotated-out keys.")
    @OptionGroup var options: ConfigOption
    func run() async throws {
        try await CLI.guarded {
            let config = try CLI.loadConfiguration(options.config)
            print(try await CLI.withEngine(config) { engine in KeysCommand.table(try await engine.keys.retire(), engine.keys) })
        }
    }
}

/// `strongroom keys rekey --config FILE [--old-key-file FILE]…`
struct KeysRekeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rekey",
        abstract: "Re-encrypt every stored secret under the current key encryption key.",
        discussion: """
        Server private keys and client_secret_jwt secrets are stored encrypted under the key         encryption key (KEK) of keys.encryption_key_file. To change the KEK: make the new key the         current one, give the old one with --old-key-file (or keys.previous_encryption_key_files),         and run this. Every secret is opened with whichever configured key it names and sealed again         under the current key, in one transaction: if any secret cannot be opened nothing changes.         Secrets stored unencrypted (by an older version) are encrypted. Running it again changes         nothing. Afterwards the old key can be removed from the configuration. The signing keys         themselves (kid, key pair) stay the same.
        """)

    @OptionGroup var options: ConfigOption

    @Option(name: .customLong("old-key-file"), help: ArgumentHelp("A previous key encryption key file (repeatable).", valueName: "file"))
    var oldKeyFiles: [String] = []

    func run() async throws {
        try await CLI.guarded {
            let config = try CLI.loadConfiguration(options.config)
            let ring = try CLI.keyRing(config, extraPrevious: oldKeyFiles)
            let logger = Logger(label: "strongroom")
            let storage = try await CLI.openStorage(config, ring: ring, logger: logger)
            let summary: ResealSummary
            do {
                try await storage.migrate()
                summary = try await storage.resealSecrets()
                try await storage.shutdown()
            } catch {
                try? await storage.shutdown()
                throw error
            }
            print("""
                all stored secrets are encrypted under key encryption key \(summary.keyID): \
                \(summary.resealed) re-encrypted from a previous key, \(summary.encrypted) encrypted from plain text, \
                \(summary.unchanged) already under it
                """)
            if !ring.previous.isEmpty {
                print("previous keys (\(ring.previous.map(\.id).joined(separator: ", "))) are no longer needed by this database; "
                    + "keep them until every node runs with the new key, then remove them from the configuration")
            }
        }
    }
}
