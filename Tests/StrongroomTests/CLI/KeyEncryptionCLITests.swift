import Foundation
import StrongroomCore
import StrongroomDemo
import StrongroomJOSE
import Testing

/// The `strongroom` binary with key encryption at rest: no key or the wrong key is a configuration
/// error (exit 2) naming the setting, and `keys rekey` moves a database to a new key. Runs the
/// executable the build produced (`STRONGROOM_BIN`, else `.build/debug/strongroom`); the demo kit
/// and keys are generated per run (test material).
@Suite("CLI key encryption")
struct KeyEncryptionCLITests {
    static let binary: String? = {
        if let bin = ProcessInfo.processInfo.environment["STRONGROOM_BIN"], !bin.isEmpty { return bin }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent(".build/debug/strongroom").path
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }()

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(binary))
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("STRONGROOM_") }
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                   stderr: String(decoding: errData, as: UTF8.self))
    }

    @Test("demo kit: a TEST key file is written and used; wrong key exit 2; rekey with --old-key-file; no key exit 2",
          .enabled(if: binary != nil, "the strongroom executable is not built"))
    func keyLifecycle() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("strongroom-kek-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let kit = try DemoKit.write(.init(directory: dir.path, port: 9543, mtlsPort: 9544))
        let config = kit.configurationPath
        let keyFile = dir.appendingPathComponent(DemoKit.keyEncryptionKeyFile)
        let keyText = try String(contentsOf: keyFile, encoding: .utf8)
        #expect(keyText.contains("TEST MATERIAL"))
        #expect(kit.configuration.keys.encryptionKeyFile == DemoKit.keyEncryptionKeyFile)
        #expect((try FileManager.default.attributesOfItem(atPath: keyFile.path)[.posixPermissions] as? Int) == 0o600)

        // First use creates the signing keys, encrypted.
        let listed = try Self.run(["keys", "list", "--config", config])
        #expect(listed.status == 0, "\(listed.stderr)")
        let kids = listed.stdout.split(separator: "\n").dropFirst().compactMap { $0.split(separator: " ").first.map(String.init) }
        #expect(kids.count == 2)

        // The wrong key: a configuration error naming the setting, exit 2.
        let oldFile = dir.appendingPathComponent("old.test.key")
        try FileManager.default.moveItem(at: keyFile, to: oldFile)
        let newKey = KeyEncryptionKey.generate()
        try KeySettings.keyFileText(base64: newKey.base64, comment: ["TEST key"]).write(to: keyFile, atomically: true, encoding: .utf8)
        let wrong = try Self.run(["keys", "list", "--config", config])
        #expect(wrong.status == 2)
        #expect(wrong.stderr.contains("configuration error: keys.encryption_key_file:"), "\(wrong.stderr)")
        #expect(wrong.stderr.contains("cannot be used") && wrong.stderr.contains(newKey.id))
        let migrate = try Self.run(["migrate", "--config", config])
        #expect(migrate.status == 2, "\(migrate.stderr)")

        // Re-key from the old key to the new one, then again (nothing left to do).
        let rekey = try Self.run(["keys", "rekey", "--config", config, "--old-key-file", oldFile.path])
        #expect(rekey.status == 0, "\(rekey.stderr)")
        #expect(rekey.stdout.contains(newKey.id) && rekey.stdout.contains("2 re-encrypted"), "\(rekey.stdout)")
        let again = try Self.run(["keys", "rekey", "--config", config])
        #expect(again.status == 0 && again.stdout.contains("0 re-encrypted") && again.stdout.contains("2 already under it"), "\(again.stdout)")
        let after = try Self.run(["keys", "list", "--config", config])
        #expect(after.status == 0, "\(after.stderr)")
        #expect(after.stdout.split(separator: "\n").dropFirst().compactMap { $0.split(separator: " ").first.map(String.init) } == kids)

        // The key can come from the environment instead; without any key, exit 2 naming the setting.
        let yaml = try String(contentsOfFile: config, encoding: .utf8)
        let keyless = dir.appendingPathComponent("keyless.yaml")
        try yaml.replacingOccurrences(of: "  encryption_key_file: \(DemoKit.keyEncryptionKeyFile)\n", with: "")
            .write(to: keyless, atomically: true, encoding: .utf8)
        let fromEnv = try Self.run(["keys", "list", "--config", keyless.path], environment: ["STRONGROOM_KEY_ENCRYPTION_KEY": newKey.base64])
        #expect(fromEnv.status == 0, "\(fromEnv.stderr)")
        let missing = try Self.run(["keys", "list", "--config", keyless.path])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("configuration error: keys.encryption_key_file: is required"), "\(missing.stderr)")
        let check = try Self.run(["config", "check", "--config", keyless.path])
        #expect(check.status == 1 && check.stdout.contains("keys.encryption_key_file: is required"), "\(check.stdout)")
    }
}
