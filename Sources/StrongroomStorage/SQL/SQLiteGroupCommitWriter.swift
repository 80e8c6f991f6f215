import Foundation
import Logging
import SQLiteKit

/// The single writer of an SQLite database, with group commit.
///
/// SQLite admits one writer at a time, and with `synchronous=FULL` every COMMIT costs an fsync. Write
/// requests are queued; one flusher drains the queue, running every request queued so far inside one
/// `BEGIN IMMEDIATE … COMMIT` (each in its own SAVEPOINT, so one failing request does not undo the
/// others), and resumes the callers only after that COMMIT succeeded. Requests that arrive while a
/// COMMIT is in flight form the next batch: many tokens, one fsync.
actor SQLiteGroupCommitWriter {
    /// One queued write request.
    private struct Job: Sendable {
        /// Runs the request inside the batch transaction; reports how to resume its caller.
        let run: @Sendable (any SQLDatabase) async -> Outcome
        /// Resumes the caller with an error when the batch fails before the request ran.
        let abandon: @Sendable (any Error) -> Void
    }

    private struct Outcome: Sendable {
        let succeeded: Bool
        /// Resumes the caller once the batch's fate (COMMIT succeeded, or the error) is known.
        let finish: @Sendable (Result<Void, any Error>) -> Void
    }

    private let database: any SQLDatabase
    private let logger: Logger
    private let maxBatch: Int
    private var pending: [Job] = []
    private var flushTask: Task<Void, Never>?
    private var closed = false
    /// Batches committed so far (for tests and metrics).
    private(set) var committedBatches = 0

    init(database: any SQLDatabase, logger: Logger, maxBatch: Int = 1000) {
        self.database = database
        self.logger = logger
        self.maxBatch = maxBatch
    }

    /// Runs `body` in the next batch transaction; returns its result once the batch is committed.
    func perform<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        guard !closed else { throw StorageError.unavailable("storage is shut down") }
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let job = Job(
                run: { database in
                    do {
                        let value = try await body(database)
                        return Outcome(succeeded: true) { commit in
                            switch commit {
                            case .success: continuation.resume(returning: value)
                            case .failure(let error): continuation.resume(throwing: error)
                            }
                        }
                    } catch {
                        return Outcome(succeeded: false) { _ in continuation.resume(throwing: error) }
                    }
                },
                abandon: { continuation.resume(throwing: $0) }
            )
            self.enqueue(job)
        }
    }

    private func enqueue(_ job: Job) {
        pending.append(job)
        if flushTask == nil {
            flushTask = Task { await self.flush() }
        }
    }

    /// Drains the queue batch by batch; new requests queue up while a batch runs.
    private func flush() async {
        while !pending.isEmpty {
            let count = min(pending.count, maxBatch)
            let batch = Array(pending.prefix(count))
            pending.removeFirst(count)
            await run(batch)
        }
        flushTask = nil
    }

    private func run(_ batch: [Job]) async {
        var outcomes: [Outcome] = []
        outcomes.reserveCapacity(batch.count)
        do {
            try await database.raw("BEGIN IMMEDIATE").run()
        } catch {
            logger.error("SQLite BEGIN failed", metadata: ["error": "\(error)"])
            for job in batch { job.abandon(error) }
            return
        }
        do {
            for job in batch {
                try await database.raw("SAVEPOINT strongroom_write").run()
                let outcome = await job.run(database)
                if !outcome.succeeded {
                    try await database.raw("ROLLBACK TO strongroom_write").run()
                }
                try await database.raw("RELEASE strongroom_write").run()
                outcomes.append(outcome)
            }
            try await database.raw("COMMIT").run()
        } catch {
            logger.error("SQLite write batch failed", metadata: ["error": "\(error)", "requests": "\(batch.count)"])
            do { try await database.raw("ROLLBACK").run() } catch {
                logger.error("SQLite ROLLBACK failed", metadata: ["error": "\(error)"])
            }
            for outcome in outcomes { outcome.finish(.failure(error)) }
            for job in batch.dropFirst(outcomes.count) { job.abandon(error) }
            return
        }
        committedBatches += 1
        for outcome in outcomes { outcome.finish(.success(())) }
    }

    /// Refuses new requests and waits for queued ones to be committed.
    func close() async {
        closed = true
        while let task = flushTask {
            await task.value
        }
    }
}
