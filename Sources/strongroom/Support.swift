import ArgumentParser
import Foundation
import Logging
import StrongroomCore
import StrongroomEngine
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

    /// Structured logs to stderr (`key=value` metadata). swift-log allows one bootstrap per process.
    static func bootstrapLogging(level: String) {
        let logLevel = Logger.Level(rawValue: level) ?? .info
        loggingState.lock.withLock {
            guard !loggingState.bootstrapped else { return }
            loggingState.bootstrapped = true
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
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

    /// Opens the configured database, migrates it, starts the engine (without seeding unless asked),
    /// runs `body`, and shuts everything down again whatever happens.
    static func withEngine<T: Sendable>(
        _ config: StrongroomConfiguration, seed: Bool = false, databaseURL: String? = nil,
        _ body: (Engine) async throws -> T
    ) async throws -> T {
        var logger = Logger(label: "strongroom")
        var engineLogger = Logger(label: "strongroom.engine")
        if databaseURL == "sqlite::memory:" {
            // A throw-away database for checks: its migrations and fresh keys are not news.
            logger.logLevel = max(logger.logLevel, .warning)
            engineLogger.logLevel = max(engineLogger.logLevel, .warning)
        }
        let storage = try await SQLStorage.open(
            url: databaseURL ?? config.database.url, poolSize: config.database.poolSize, logger: logger)
        do {
            try await storage.migrate()
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
