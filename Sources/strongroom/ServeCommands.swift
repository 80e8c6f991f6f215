import ArgumentParser
import Foundation
import Logging
import StrongroomCore
import StrongroomDemo
import StrongroomEngine
import StrongroomPolicy
import StrongroomServer
import StrongroomStorage

/// `strongroom serve --config FILE`
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the server: migrate the database, seed configured clients and users, listen.")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        try await CLI.guarded {
            let config = try CLI.loadConfiguration(options.config)
            try await Self.serve(config)
        }
    }

    static func serve(_ config: StrongroomConfiguration) async throws {
        // First, before the engine or the listeners touch NIO's shared event-loop group.
        ProcessCPUs.sizeNIOSingletons()
        // The service settings must be able to satisfy every profile its scopes select
        // (reference: service configuration tables); `strongroom config check` prints the same list.
        let violations = ServiceConformance(service: config.service).violations()
        if !violations.isEmpty {
            throw ConfigurationError(key: "service", message: "cannot satisfy the profiles its scopes select:\n"
                + violations.map { "  - \($0)" }.joined(separator: "\n"))
        }
        let logger = Logger(label: "strongroom")
        logger.info("starting", metadata: [
            "issuer": "\(config.service.issuer)",
            "listen": "\(config.server.host):\(config.server.port)",
            "mtls_alias": "\(config.server.mtlsAlias.map { "\($0.host):\($0.port)" } ?? "none")",
            "database": "\(redactedDatabaseURL(config.database.url))",
        ])
        try await CLI.withEngine(config, seed: true) { engine in
            try await StrongroomHTTPServer(configuration: config, engine: engine, logger: logger).run()
        }
    }
}

/// `strongroom migrate --config FILE`
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create or upgrade the database schema (also done by serve on start).",
        discussion: "Needs the key encryption key (keys.encryption_key_file): upgrading a database from before encryption at rest encrypts its stored secrets.")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        try await CLI.guarded {
            let config = try CLI.loadConfiguration(options.config)
            let ring = try CLI.keyRing(config)
            let logger = Logger(label: "strongroom")
            let storage = try await CLI.openStorage(config, ring: ring, logger: logger)
            do {
                try await storage.migrate()
                try await CLI.checkSealedSecrets(storage, ring: ring, logger: logger)
                let version = try await storage.schemaVersion()
                try await storage.shutdown()
                print("migrated \(redactedDatabaseURL(config.database.url)) to schema version \(version)")
            } catch {
                try? await storage.shutdown()
                throw error
            }
        }
    }
}

/// A database URL without its password, for logs and messages.
func redactedDatabaseURL(_ url: String) -> String {
    guard var c = URLComponents(string: url), c.password != nil else { return url }
    c.password = "***"
    return c.string ?? "(database URL)"
}

/// `strongroom demo [serve] [--dir ./demo] [--port 8443] …` and `strongroom demo init DIR …`.
/// The options live on the subcommands only: a parent command with options of the same names
/// would take them before `demo init` sees them.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Serve the demo kit in --dir, writing it first (demo init) if it does not exist.",
        discussion: "Everything the demo kit holds is DEMO/TEST material: never use it in production.",
        subcommands: [DemoServeCommand.self, DemoInitCommand.self],
        defaultSubcommand: DemoServeCommand.self)
}

/// `strongroom demo [serve] [--dir ./demo] [--port 8443] [--host 127.0.0.1]`
struct DemoServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the demo kit in --dir, writing it first if it does not exist (the default of `strongroom demo`).")

    @Option(help: "Folder of the demo kit.")
    var dir: String = "./demo"

    @Option(help: "Port of the TLS listener (used when the kit is written; default 8443).")
    var port: Int?

    @Option(name: .customLong("mtls-port"), help: "Port of the mutual-TLS alias (used when the kit is written; default 8444).")
    var mtlsPort: Int?

    @Option(help: "Address to listen on (default 127.0.0.1).")
    var host: String?

    func run() async throws {
        try await CLI.guarded {
            let path = URL(fileURLWithPath: dir).appendingPathComponent(DemoKit.configurationFile).path
            let written = !FileManager.default.fileExists(atPath: path)
            if written {
                CLI.bootstrapLogging(level: "info")
                let kit = try DemoKit.write(.init(
                    directory: dir, port: port ?? 8443, mtlsPort: mtlsPort ?? 8444, host: host ?? "127.0.0.1"))
                DemoInitCommand.describe(kit)
                print("")
            }
            var config = try CLI.loadConfiguration(path)
            if !config.keys.hasEncryptionKey {
                // A kit written before encryption at rest: give it a test KEK file of its own.
                config.keys.encryptionKeyFile = try DemoKit.addKeyEncryptionKey(toKitIn: dir)
                CLI.printError("note: the demo kit in \(dir) predates key encryption at rest; wrote a TEST key encryption key to "
                    + "\(config.keys.encryptionKeyFile ?? "") (add `keys: {encryption_key_file: \(DemoKit.keyEncryptionKeyFile)}` to its "
                    + "strongroom.yaml to use it with `strongroom serve`, or remake the kit with `strongroom demo init \(dir) --force`).")
            }
            // Demo mode: the demo pages are served even for a kit written before `server.demo_pages` existed.
            config.server.demoPages = true
            if let host { config.server.host = host; config.server.mtlsAlias?.host = host }
            if let port, port != config.server.port {
                CLI.printError("note: the demo kit in \(dir) was written for port \(config.server.port) (issuer \(config.service.issuer)); "
                    + "run `strongroom demo init \(dir) --port \(port) --force` to remake it for port \(port).")
            }
            Self.banner(config, directory: dir, secrets: !written)
            try await ServeCommand.serve(config)
        }
    }

    /// What to point a client at; the secrets again unless `demo init` just printed them.
    static func banner(_ config: StrongroomConfiguration, directory: String, secrets: Bool) {
        let dir = URL(fileURLWithPath: directory).standardizedFileURL
        func file(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let discovery = config.service.issuer + "/.well-known/openid-configuration"
        var lines = [
            "Strongroom demo (DEMO/TEST material only)",
            "  discovery:      \(discovery)",
            "  trust this CA:  \(file("ca.pem"))",
            "                  curl --cacert \(file("ca.pem")) \(discovery)",
        ]
        if let alias = config.server.mtlsAlias {
            lines.append("  mTLS alias:     \(alias.baseURL ?? "https://\(alias.host):\(alias.port)")"
                + (config.server.requestClientCertificate ? "" : " (client certificates go here: the main listener does not ask for one)"))
        }
        lines += [
            "  client keys:    \(file("client1.key.pem")), \(file("client1.jwks.json")) (\(DemoKit.fapiClient1), PS256)",
            "                  \(file("client2.key.pem")), \(file("client2.jwks.json")) (\(DemoKit.fapiClient2), ES256)",
            "                  \(file("client3.key.pem")), \(file("client3.jwks.json")) (\(DemoKit.fapi2DPoPClient), ES256, DPoP)",
            "                  \(file("client4.key.pem")), \(file("client4.jwks.json")) (\(DemoKit.fapi2MTLSClient), ES256, mTLS)",
            "  user:           \(DemoKit.demoUsername) / \(DemoKit.demoPassword)",
        ]
        if secrets {
            if let token = config.admin.token { lines.append("  admin token:    \(token)") }
            if let iat = config.service.registration.initialAccessTokens.first { lines.append("  initial access token (DCR): \(iat)") }
            if let plain = config.clients.first(where: { $0.clientID == DemoKit.plainClient }), let secret = plain.clientSecret {
                lines.append("  \(DemoKit.plainClient) secret: \(secret)")
            }
        }
        print(lines.joined(separator: "\n"))
        CLI.flush()
    }
}

/// `strongroom demo init DIR [--port 8443] [--mtls-port 8444] [--force]`
struct DemoInitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a demo kit: test CA, server and client certificates, client JWK Sets, configuration.",
        discussion: "All keys, tokens and passwords written are DEMO/TEST material. --force also deletes the kit's SQLite database.")

    @Argument(help: "Folder to write the kit into.")
    var dir: String = "./demo"

    @Option(help: "Port of the TLS listener; the issuer is https://localhost:PORT.")
    var port: Int = 8443

    @Option(name: .customLong("mtls-port"), help: "Port of the mutual-TLS alias listener.")
    var mtlsPort: Int = 8444

    @Option(help: "Address the listeners bind to.")
    var host: String = "127.0.0.1"

    @Flag(help: "Replace an existing kit.")
    var force = false

    func run() async throws {
        try await CLI.guarded {
            CLI.bootstrapLogging(level: "info")
            let kit = try DemoKit.write(.init(directory: dir, port: port, mtlsPort: mtlsPort, host: host, force: force))
            Self.describe(kit)
        }
    }

    static func describe(_ kit: DemoKit.Kit) {
        func file(_ name: String) -> String { URL(fileURLWithPath: kit.directory).appendingPathComponent(name).path }
        print("""
        Wrote a Strongroom demo kit (DEMO/TEST material only) to \(kit.directory)
          configuration:  \(kit.configurationPath)
          CA to trust:    \(file("ca.pem"))
          server:         \(file("server.pem")), \(file("server.key.pem"))
          client 1:       \(file("client1.pem")), \(file("client1.key.pem")), \(file("client1.jwks.json")) (\(DemoKit.fapiClient1): private_key_jwt, PS256)
          client 2:       \(file("client2.pem")), \(file("client2.key.pem")), \(file("client2.jwks.json")) (\(DemoKit.fapiClient2): tls_client_auth, ES256)
          client 3:       \(file("client3.pem")), \(file("client3.key.pem")), \(file("client3.jwks.json")) (\(DemoKit.fapi2DPoPClient): FAPI 2.0, private_key_jwt, ES256, DPoP)
          client 4:       \(file("client4.pem")), \(file("client4.key.pem")), \(file("client4.jwks.json")) (\(DemoKit.fapi2MTLSClient): FAPI 2.0, tls_client_auth, ES256)
          explained in:   \(file("README.txt"))
        Demo secrets (also in strongroom.yaml):
          admin token:                 \(kit.adminToken)
          initial access token (DCR):  \(kit.initialAccessToken)
          \(DemoKit.plainClient) client secret:    \(kit.plainClientSecret)
          user:                        \(DemoKit.demoUsername) / \(DemoKit.demoPassword)
        Serve it with: strongroom demo --dir \(kit.directory)
        """)
        CLI.flush()
    }
}
