import Foundation
import Logging
import ServiceLifecycle
import StrongroomEngine

/// Re-reads the signing keys every `interval` (`KeyManager.reloadInterval`), so that a rotation
/// made on another node or by the CLI is in force here within `KeyManager.propagation`, which the
/// rotation rules rely on. One small read of a table of a few rows; independent of the expiry
/// sweep, so neither one failing holds up the other.
struct KeyReloader: Service {
    let keys: KeyManager
    let interval: Duration
    let logger: Logger
    /// Failures in a row after which a still-failing reload is reported again (about once a minute).
    static let reportEvery = 12

    func run() async throws {
        let keys = self.keys, interval = self.interval, logger = self.logger
        do {
            try await cancelWhenGracefulShutdown {
                var failures = 0
                while !Task.isCancelled {
                    try await Task.sleep(for: interval)
                    do {
                        try await keys.reload()
                        if failures > 0 {
                            logger.notice("signing keys reloaded again", metadata: ["failed_reloads": .stringConvertible(failures)])
                            failures = 0
                        }
                    } catch {
                        // This node keeps signing with the keys it has: past the rotation bounds,
                        // those may be keys the other nodes no longer publish.
                        if failures % Self.reportEvery == 0 {
                            logger.error("signing key reload failed", metadata: [
                                "error": "\(error)", "failed_reloads": .stringConvertible(failures + 1),
                            ])
                        }
                        failures += 1
                    }
                }
            }
        } catch is CancellationError {
            // Graceful shutdown or group cancellation: stop quietly.
        }
    }
}
