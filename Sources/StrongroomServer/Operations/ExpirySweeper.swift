import Foundation
import Logging
import ServiceLifecycle
import StrongroomStorage

/// Deletes expired codes, tokens, PAR requests, sessions and replay entries in the background
/// (docs/operations.md). The signing keys are re-read by `KeyReloader`, on a schedule of their own.
struct ExpirySweeper: Service {
    let storage: any Storage
    let interval: Duration
    let logger: Logger

    func run() async throws {
        let storage = self.storage, interval = self.interval, logger = self.logger
        do {
            try await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    try await Task.sleep(for: interval)
                    do {
                        let removed = try await storage.sweepExpired(now: Date())
                        if removed > 0 { logger.debug("swept expired rows", metadata: ["rows": .stringConvertible(removed)]) }
                    } catch {
                        logger.warning("expiry sweep failed", metadata: ["error.type": .string(String(reflecting: type(of: error)))])
                    }
                }
            }
        } catch is CancellationError {
            // Graceful shutdown or group cancellation: stop quietly.
        }
    }
}
