import ArgumentParser
import Foundation
import StrongroomCore
import StrongroomEngine
import StrongroomPolicy

/// `strongroom config check --config FILE`
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Inspect the configuration file.",
        subcommands: [ConfigCheckCommand.self])
}

struct ConfigCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate the configuration: structure, files, the service against its FAPI profiles, and every configured client.",
        discussion: "Prints OK, or one line per problem and exits 1. A file that cannot be parsed exits 2.")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        try await CLI.guarded {
            let config = try CLI.loadConfiguration(options.config)
            let problems = await Self.problems(config)
            guard !problems.isEmpty else {
                print("OK")
                return
            }
            for p in problems { print("- \(p)") }
            throw CLI.violationsExit
        }
    }

    /// Everything `config check` reports beyond structural validation (which `load` already did).
    static func problems(_ config: StrongroomConfiguration) async -> [String] {
        var out: [String] = []
        var files: [(String, String)] = []
        if let p = config.server.tlsCertificate { files.append(("server.tls_certificate", p)) }
        if let p = config.server.tlsPrivateKey { files.append(("server.tls_private_key", p)) }
        for (i, p) in config.server.clientCATrustAnchors.enumerated() { files.append(("server.client_ca_trust_anchors[\(i)]", p)) }
        for (key, path) in files where !FileManager.default.isReadableFile(atPath: path) {
            out.append("\(key): cannot read \(path)")
        }
        // The key-encryption key: configured, readable, 32 bytes (whether it opens the database's
        // secrets is checked when serve, migrate or keys rekey open it).
        do { _ = try CLI.keyRing(config) } catch { out.append("\(error)") }
        for v in ServiceConformance(service: config.service).violations() {
            out.append("service.\(v.field): \(v.message)")
        }
        for c in config.clients where c.metadata.tokenEndpointAuthMethod.usesSharedSecret && c.clientSecret == nil {
            out.append("clients[\(c.clientID)].client_secret: is required for \(c.metadata.tokenEndpointAuthMethod.rawValue)")
        }
        // Client rules need the engine's registry; a private in-memory database keeps this read-only.
        do {
            let clientProblems = try await CLI.withEngine(config, databaseURL: "sqlite::memory:") { engine in
                config.clients.flatMap { c in
                    engine.clients.validate(c.metadata).map { "clients[\(c.clientID)].\($0.field): \($0.message)" }
                }
            }
            out += clientProblems
        } catch {
            out.append("clients: could not be checked: \(error)")
        }
        return out
    }
}
