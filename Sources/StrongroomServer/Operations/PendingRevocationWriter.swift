import Foundation
import ServiceLifecycle
import StrongroomEngine

/// Writes the lineage revocations the database refused (a full disk, a lost connection) again
/// every second, so that a node that serves nothing else still stores them and every other node
/// then sees them (`LineageRevoker.revoke`). Nothing to do, and nothing done, while none wait.
struct PendingRevocationWriter: Service {
    let engine: Engine
    let interval: Duration

    func run() async throws {
        let engine = self.engine, interval = self.interval
        do {
            try await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    try await Task.sleep(for: interval)
                    await engine.retryPendingRevocations()
                }
            }
        } catch is CancellationError {
            // Graceful shutdown or group cancellation: stop quietly.
        }
    }
}
