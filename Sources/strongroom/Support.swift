import ArgumentParser
import Foundation
import Logging
import StrongroomCore
import StrongroomEngine
import StrongroomJOSE
import StrongroomPolicy
import StrongroomStorage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `--config FILE`, shared by every command that works on an installation.
struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Configuration file (YAML or JSON).", valueName: "file"))
    var config: String = "strongroom.yaml"
}

/// A failure of a command at run time, printed as `error: <message>` (exit status 1).
struct CLIFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Exit codes: 1 for violations and operational failures, 2 for configuration errors.
enum CLI {
    static let violationsExit = ExitCode(1)
    static let configurationExit = ExitCode(2)

    // MARK: Output

    static func printError(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    /// Pushes buffered standard output out (it is fully buffered when redirected to a file).
    static func flush() {
        fflush(nil)  // every output stream; avoids touching the global `stdout` under strict concurrency
    }

    // MARK: Logging

    private final class LoggingState: @unchecked Sendable {
        let lock = NSLock()
        var bootstrapped = false
    }
    private static let loggingState = LoggingState()

    /// Structured logs to stderr (`key=value` metadata, caller-chosen text escaped: `LogLineHandler`).
    /// swift-log allows one bootstrap per process.
    static func bootstrapLogging(level: String) {
        let logLevel = Logger.Level(rawValue: level) ?? .info
        loggingState.lock.withLock {
            guard !loggingState.bootstrapped else { return }
            loggingState.bootstrapped = true
            LoggingSystem.bootstrap { label in
                var handler = LogLineHandler(label: label)
                handler.logLevel = logLevel
                return handler
            }
        }
    }

    // MARK: Configuration

    /// Loads, applies environment overrides, validates, and starts logging at the configured level.
    static func loadConfiguration(_ path: String) throws -> StrongroomConfiguration {
        let config = try StrongroomConfiguration.load(path: path)
        bootstrapLogging(level: config.logLevel)
        return config
    }

    // MARK: Running

    /// Runs a command body, turning the errors operators meet into one clear line and an exit code.
    static func guarded(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as ExitCode {
            throw error
        } catch let error as CleanExit {
            throw error
        } catch let error as ConfigurationError {
            printError("configuration error: \(error)")
            throw configurationExit
        } catch let error as SealingError {
            // A stored secret the configured key-encryption keys cannot open: the keys are at fault.
            printError("configuration error: keys: \(error)")
            throw configurationExit
        } catch let error as RegistrationRefused {
            printRefusal(error.violations.map(\.description))
            throw violationsExit
        } catch let error as CLIFailure {
            printError("error: \(error)")
            throw ExitCode.failure
        } catch {
            printError("error: \(error)")
            throw ExitCode.failure
        }
    }

    static func printRefusal(_ lines: [String]) {
        print("refused:")
        for line in lines { print("- \(line)") }
    }

    // MARK: Key encryption

    /// The configured key-encryption keys (`keys`, plus `extraPrevious` files), or a configuration
    /// error naming `keys.encryption_key_file` when there is no current one: every command that
    /// opens the database needs it, the demo kit included (it writes a test KEK file).
    static func keyRing(_ config: StrongroomConfiguration, extraPrevious: [String] = []) throws -> KeyEncryptionKeyRing {
        guard let ring = try KeyEncryptionKeyRing.configured(config.keys, extraPrevious: extraPrevious) else {
            throw ConfigurationError(key: "keys.encryption_key_file", message: KeySettings.missingKeyMessage)
        }
        return ring
    }

    /// Opens the configured database with its key-encryption keys (not migrated yet).
    static func openStorage(_ config: StrongroomConfiguration, ring: KeyEncryptionKeyRing, logger: Logger) async throws -> SQLStorage {
        try await SQLStorage.open(url: config.database.url, poolSize: config.database.poolSize, sealer: ring, logger: logger)
    }

    /// Opens every stored secret once: a secret the keys cannot open (wrong KEK, missing previous
    /// KEK, value moved between rows, unencrypted value) stops the command with a configuration
    /// error (exit 2) before anything is served. Secrets still under a previous KEK are only logged.
    static func checkSealedSecrets(_ storage: SQLStorage, ring: KeyEncryptionKeyRing, logger: Logger) async throws {
        let report = try await storage.sealedSecretsReport()
        if !report.problems.isEmpty {
            let shown = report.problems.prefix(10).map { "  - \($0)" }
            let more = report.problems.count > 10 ? ["  - … and \(report.problems.count - 10) more"] : []
            let unencryptedOnly = report.problems.allSatisfy { if case .notSealed = $0 { true } else { false } }
            let advice = unencryptedOnly
                ? "encrypt them with `strongroom keys rekey --config FILE`"
                : "configure the key they were encrypted under (keys.previous_encryption_key_files, or --old-key-file for `keys rekey`), or restore the right key file"
            throw ConfigurationError(
                key: "keys.encryption_key_file",
                message: "\(report.problems.count) of \(report.total) stored secrets cannot be used with the configured key encryption keys "
                    + "(current \(ring.currentKeyID)\(ring.previous.isEmpty ? "" : ", previous " + ring.previous.map(\.id).joined(separator: ", "))); "
                    + advice + ":\n" + (shown + more).joined(separator: "\n"))
        }
        let behind = report.underOtherKeys(than: ring.currentKeyID)
        if behind > 0 {
            logger.warning("stored secrets are still encrypted under a previous key encryption key; run `strongroom keys rekey`",
                           metadata: ["count": "\(behind)", "current_kek_id": "\(ring.currentKeyID)"])
        }
    }

    /// Opens the configured database, migrates it, checks its encrypted secrets, starts the engine
    /// (without seeding unless asked), runs `body`, and shuts everything down again whatever happens.
    /// `databaseURL: "sqlite::memory:"` is a throw-away database for checks, under a throw-away KEK.
    static func withEngine<T: Sendable>(
        _ config: StrongroomConfiguration, seed: Bool = false, databaseURL: String? = nil,
        _ body: (Engine) async throws -> T
    ) async throws -> T {
        var logger = Logger(label: "strongroom")
        var engineLogger = Logger(label: "strongroom.engine")
        let scratch = databaseURL == "sqlite::memory:"
        if scratch {
            // A throw-away database for checks: its migrations and fresh keys are not news.
            logger.logLevel = max(logger.logLevel, .warning)
            engineLogger.logLevel = max(engineLogger.logLevel, .warning)
        }
        let ring = scratch ? KeyEncryptionKeyRing(current: .generate()) : try keyRing(config)
        let storage = try await SQLStorage.open(
            url: databaseURL ?? config.database.url, poolSize: config.database.poolSize, sealer: ring, logger: logger)
        do {
            try await storage.migrate()
            if !scratch { try await checkSealedSecrets(storage, ring: ring, logger: logger) }
            let engine = try await Engine.start(
                configuration: config, storage: storage, logger: engineLogger, seed: seed)
            do {
                let result = try await body(engine)
                await engine.shutdown()
                try await storage.shutdown()
                return result
            } catch {
                await engine.shutdown()
                throw error
            }
        } catch {
            try? await storage.shutdown()
            throw error
        }
    }

    // MARK: Reading input

    static func readFile(_ path: String) throws -> Data {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIFailure("cannot read \(path)")
        }
        return data
    }

    /// Client metadata (RFC 7591 names) from a JSON file, with decoding errors naming the field.
    static func readMetadata(_ path: String) throws -> ClientMetadata {
        let data = try readFile(path)
        do {
            return try JSONDecoder().decode(ClientMetadata.self, from: data)
        } catch let error as DecodingError {
            let e = ConfigurationError.describe(error)
            throw CLIFailure("\(path): \(e)")
        }
    }

    /// A password read without echo from the terminal.
    static func promptPassword(_ prompt: String) -> String? {
        guard isatty(STDIN_FILENO) != 0 else { return nil }
        FileHandle.standardError.write(Data(prompt.utf8))
        var old = termios()
        tcgetattr(STDIN_FILENO, &old)
        var silent = old
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSANOW, &silent)
        defer {
            tcsetattr(STDIN_FILENO, TCSANOW, &old)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        return readLine(strippingNewline: true)
    }

    // MARK: Tables

    /// Left-aligned columns separated by two spaces.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { i in all.map { $0[i].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    static func timestamp(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: date)
    }

    static func prettyJSON<T: Encodable>(_ value: T) throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try enc.encode(value), as: UTF8.self)
    }
}
