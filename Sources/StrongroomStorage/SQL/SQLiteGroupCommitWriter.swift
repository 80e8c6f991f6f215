import Foundation
import Logging
import NIOConcurrencyHelpers
import SQLKit

/// The single writer of an SQLite database, with group commit.
///
/// SQLite admits one writer at a time, and with `synchronous=FULL` every COMMIT costs an fsync. Write
/// requests are queued; one flusher drains the queue, running every request queued so far inside one
/// `BEGIN IMMEDIATE … COMMIT`, and resumes the callers only after that COMMIT succeeded. Requests that
/// arrive while a COMMIT is in flight form the next batch: many tokens, one fsync.
///
/// A batch first runs optimistically, without savepoints. If a request fails, the whole batch is
/// rolled back and run again with each request in its own SAVEPOINT, so a failing request does not
/// undo the others (and the others see exactly the state they would have seen alone). If SQLite
/// has rolled the transaction back by itself (it does after SQLITE_FULL and I/O errors), nothing of
/// the batch can be committed: every request of the batch fails with that error.
///
/// The statements of a batch run on the flusher's thread (see `SQLiteDirectDatabase`); only the
/// COMMIT, which waits for the disk, goes to NIO's thread pool.
final class SQLiteGroupCommitWriter: Sendable {
    /// One queued write request.
    private struct Job: Sendable {
        /// Runs the request inside the batch transaction; reports how to resume its caller.
        let run: @Sendable (any SQLDatabase) async -> Outcome
        /// Resumes the caller with an error when the batch fails before the request ran.
        let abandon: @Sendable (any Error) -> Void
    }

    private struct Outcome: Sendable {
        /// Why the request failed; nil if it succeeded.
        let failure: (any Error)?
        /// Resumes the caller once the batch's fate (COMMIT succeeded, or the error) is known.
        let finish: @Sendable (Result<Void, any Error>) -> Void
    }

    private struct State {
        var pending: [Job] = []
        var flushing = false
        var closed = false
        var committedBatches = 0
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let database: SQLiteDirectDatabase
    /// Whether COMMIT goes to the thread pool (a file: it fsyncs) or runs in place (in memory).
    private let commitBlocks: Bool
    private let logger: Logger
    private let maxBatch: Int
    private let state = NIOLockedValueBox(State())

    /// Batches committed so far (for tests and metrics).
    var committedBatches: Int { state.withLockedValue { $0.committedBatches } }

    init(database: SQLiteDirectDatabase, commitBlocks: Bool, logger: Logger, maxBatch: Int = 1000) {
        self.database = database
        self.commitBlocks = commitBlocks
        self.logger = logger
        self.maxBatch = maxBatch
    }

    /// Runs `body` in the next batch transaction; returns its result once the batch is committed.
    func perform<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let job = Job(
                run: { database in
                    do {
                        let value = try await body(database)
                        return Outcome(failure: nil) { commit in
                            switch commit {
                            case .success: continuation.resume(returning: value)
                            case .failure(let error): continuation.resume(throwing: error)
                            }
                        }
                    } catch {
                        return Outcome(failure: error) { _ in continuation.resume(throwing: error) }
                    }
                },
                abandon: { continuation.resume(throwing: $0) }
            )
            let (accepted, startFlusher) = state.withLockedValue { state -> (Bool, Bool) in
                guard !state.closed else { return (false, false) }
                state.pending.append(job)
                guard !state.flushing else { return (true, false) }
                state.flushing = true
                return (true, true)
            }
            if !accepted {
                continuation.resume(throwing: StorageError.unavailable("storage is shut down"))
            } else if startFlusher {
                Task { await self.flush() }
            }
        }
    }

    /// Drains the queue batch by batch; new requests queue up while a batch runs.
    private func flush() async {
        while true {
            let next = state.withLockedValue { state -> ([Job], [CheckedContinuation<Void, Never>]) in
                guard !state.pending.isEmpty else {
                    state.flushing = false
                    defer { state.idleWaiters.removeAll() }
                    return ([], state.idleWaiters)
                }
                let count = min(state.pending.count, maxBatch)
                let batch = Array(state.pending.prefix(count))
                state.pending.removeFirst(count)
                return (batch, [])
            }
            guard !next.0.isEmpty else {
                for waiter in next.1 { waiter.resume() }
                return
            }
            await run(next.0)
        }
    }

    private func statement(_ sql: String) async throws {
        _ = try await database.run(sql, [])
    }

    private func run(_ batch: [Job]) async {
        var outcomes: [Outcome] = []
        outcomes.reserveCapacity(batch.count)
        do {
            try await statement("BEGIN IMMEDIATE")
        } catch {
            logger.error("SQLite BEGIN failed", metadata: ["error": "\(error)"])
            for job in batch { job.abandon(error) }
            return
        }
        do {
            // Optimistic pass: no savepoints.
            var failure: (any Error)? = nil
            for job in batch {
                let outcome = await job.run(database)
                if let error = outcome.failure { failure = error; break }
                outcomes.append(outcome)
            }
            if let failure {
                // SQLite rolled the transaction back itself: the batch fails with the request's error.
                guard database.isInTransaction else { throw failure }
                // Undo the whole batch and run it again, each request isolated in a savepoint. The
                // outcomes of the first pass are dropped unreported: their effects were rolled back.
                outcomes.removeAll(keepingCapacity: true)
                try await statement("ROLLBACK")
                try await statement("BEGIN IMMEDIATE")
                for job in batch {
                    try await statement("SAVEPOINT strongroom_write")
                    let outcome = await job.run(database)
                    if let error = outcome.failure {
                        guard database.isInTransaction else { throw error }
                        try await statement("ROLLBACK TO strongroom_write")
                    }
                    try await statement("RELEASE strongroom_write")
                    outcomes.append(outcome)
                }
            }
            if commitBlocks {
                try await database.runBlocking("COMMIT")
            } else {
                try await statement("COMMIT")
            }
        } catch {
            logger.error("SQLite write batch failed", metadata: ["error": "\(error)", "requests": "\(batch.count)"])
            if database.isInTransaction {
                do { try await statement("ROLLBACK") } catch {
                    logger.error("SQLite ROLLBACK failed", metadata: ["error": "\(error)"])
                }
            }
            for outcome in outcomes { outcome.finish(.failure(error)) }
            for job in batch.dropFirst(outcomes.count) { job.abandon(error) }
            return
        }
        state.withLockedValue { $0.committedBatches += 1 }
        for outcome in outcomes { outcome.finish(.success(())) }
    }

    /// Refuses new requests and waits for queued ones to be committed.
    func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let idle = state.withLockedValue { state -> Bool in
                state.closed = true
                guard state.flushing else { return true }
                state.idleWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }
}
