import ArgumentParser
import Foundation
import StrongroomCore
import StrongroomEngine
import StrongroomPolicy

/// `strongroom clients add|list|show|check|remove`
struct ClientsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clients",
        abstract: "Register, inspect, check and remove clients.",
        discussion: """
        Registration goes through the same checks as Dynamic Client Registration and the admin API: \
        a client whose settings cannot satisfy the FAPI profiles its scopes imply is refused, with \
        every unmet requirement listed.
        """,
        subcommands: [
            ClientsAddCommand.self, ClientsListCommand.self, ClientsShowCommand.self,
            ClientsCheckCommand.self, ClientsRemoveCommand.self,
        ])
}

struct ClientsAddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Register a client from RFC 7591 metadata; prints its client_id and (once) its client_secret.")

    @OptionGroup var options: ConfigOption

    @Option(help: ArgumentHelp("Client metadata as JSON (RFC 7591 names).", valueName: "file.json"))
    var metadata: String

    @Option(name: .customLong("client-id"), help: "Identifier to use instead of a random one.")
    var clientID: String?

    @Option(name: .customLong("client-secret"), help: "Secret to use instead of a random one (shared-secret methods only).")
    var clientSecret: String?

    func run() async throws {
        try await CLI.guarded {
            let config = try CLI.loadConfiguration(options.config)
            let m = try CLI.readMetadata(metadata)
            let registered = try await CLI.withEngine(config) { engine in
                try await engine.clients.register(m, clientID: clientID, clientSecret: clientSecret, source: "cli")
            }
            print("client_id: \(registered.client.clientID)")
            if let secret = registered.clientSecret {
                print("client_secret: \(secret)")
                CLI.printError("note: the client secret is stored only as a hash; this is the only time it is shown.")
            }
        }
    }
}

struct ClientsListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List clients.")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        try await CLI.guarded {
            let config = try CLI.loadConfiguration(options.config)
            let clients = try await CLI.withEngine(config) { engine in try await engine.clients.list() }
            let selector = ProfileSelector(service: config.service)
            let rows = clients.sorted { $0.clientID < $1.clientID }.map { c -> [String] in
                let profiles = selector.profiles(for: c.metadata).sorted().map(\.rawValue)
                return [c.clientID, c.metadata.clientName ?? "-", c.metadata.tokenEndpointAuthMethod.rawValue,
                        profiles.isEmpty ? Profile.oauth.rawValue : profiles.joined(separator: ","), c.source]
            }
            print(CLI.table(["CLIENT_ID", "NAME", "AUTH METHOD", "PROFILES", "SOURCE"], rows))
        }
    }
}

struct ClientsShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Print a client's metadata as JSON (never its secrets).")

    @OptionGroup var options: ConfigOption

    @Argument(help: "client_id")
    var clientID: String

    func run() async throws {
        try await CLI.guarded {
            let config = try CLI.loadConfiguration(options.config)
            guard let client = try await CLI.withEngine(config, { engine in try await engine.clients.lookup(clientID) }) else {
                CLI.printError("no client \(clientID)")
                throw ExitCode.failure
            }
            // SeedClient flattens the metadata beside client_id; the secret is left out on purpose.
            print(try CLI.prettyJSON(SeedClient(clientID: client.clientID, clientSecret: nil, metadata: client.metadata)))
        }
    }
}

struct ClientsCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check a registered client, or a metadata file, against the profiles its scopes imply.",
        discussion: "Prints OK, or one line per violation (`- field: message`) and exits 1.")

    @OptionGroup var options: ConfigOption

    @Argument(help: "client_id of a registered client.")
    var clientID: String?

    @Option(help: ArgumentHelp("Client metadata as JSON (RFC 7591 names), checked without registering.", valueName: "file.json"))
    var metadata: String?

    func validate() throws {
        guard (clientID == nil) != (metadata == nil) else {
            throw ValidationError("give either a client_id or --metadata FILE.json")
        }
    }

    func run() async throws {
        try await CLI.guarded {
            let config = try CLI.loadConfiguration(options.config)
            let violations: [Violation]
            if let metadata {
                let m = try CLI.readMetadata(metadata)
                // Nothing is written: the check runs against a private in-memory database.
                violations = try await CLI.withEngine(config, databaseURL: "sqlite::memory:") { engine in engine.clients.validate(m) }
            } else {
                let id = clientID ?? ""
                let found: [Violation]? = try await CLI.withEngine(config) { engine in
                    guard let client = try await engine.clients.lookup(id) else { return nil }
                    return engine.clients.validate(client.metadata)
                }
                guard let found else {
                    CLI.printError("no client \(id)")
                    throw ExitCode.failure
                }
                violations = found
            }
            guard !violations.isEmpty else {
                print("OK")
                return
            }
            for v in violations { print("- \(v)") }
            throw CLI.violationsExit
        }
    }
}

struct ClientsRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a client.")

    @OptionGroup var options: ConfigOption

    @Argument(help: "client_id")
    var clientID: String

    func run() async throws {
        try await CLI.guarded {
            let config = try CLI.loadConfiguration(options.config)
            let removed = try await CLI.withEngine(config) { engine in try await engine.clients.remove(clientID: clientID) }
            guard removed else {
                CLI.printError("no client \(clientID)")
                throw ExitCode.failure
            }
            print("removed \(clientID)")
            if config.clients.contains(where: { $0.clientID == clientID }) {
                CLI.printError("note: \(clientID) is declared in \(options.config); it is created again at the next start unless removed there too.")
            }
        }
    }
}
