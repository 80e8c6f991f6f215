import Foundation
import Logging
import NIOCore
import NIOPosix
@preconcurrency import AsyncKit
import PostgresKit
import SQLKit

/// How statements reach the database: where reads run, and how writes are made atomic and durable.
protocol SQLExecutor: Sendable {
    var kind: SQLStorage.DatabaseKind { get }
    /// Runs read-only statements.
    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// Runs one statement that changes data (atomic by itself); durable when this returns.
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// Runs several statements as one atomic unit of work: they commit together, before this returns.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    func shutdown() async throws
}

/// SQLite: one writer connection behind the group-commit queue, and reader connections (WAL lets
/// readers run beside the writer). An in-memory database is private to its connection, so there
/// everything goes through the writer. Statements run on the calling thread (`SQLiteDirectDatabase`).
final class SQLiteExecutor: SQLExecutor {
    let kind = SQLStorage.DatabaseKind.sqlite
    private let handles: [SQLiteHandle]
    private let reader: SQLiteDirectDatabase?
    private let writer: SQLiteGroupCommitWriter
    private let state = ShutdownFlag()

    private init(writer: SQLiteHandle, readers: [SQLiteHandle], commitBlocks: Bool, logger: Logger) {
        self.handles = [writer] + readers
        self.reader = readers.isEmpty ? nil : SQLiteDirectDatabase(source: SQLiteReaderSet(handles: readers), logger: logger)
        self.writer = SQLiteGroupCommitWriter(
            database: SQLiteDirectDatabase(source: writer, logger: logger), commitBlocks: commitBlocks, logger: logger)
    }

    /// Opens `path` (nil: a private in-memory database) with `readerCount` reader connections.
    static func open(path: String?, readerCount: Int, logger: Logger) async throws -> SQLiteExecutor {
        // Opening may wait for the file system (and WAL recovery): off the caller's thread.
        try await NIOThreadPool.singleton.runIfActive {
            var handles: [SQLiteHandle] = []
            do {
                let writer = try SQLiteHandle(path: path ?? ":memory:")
                handles.append(writer)
                func pragma(_ handle: SQLiteHandle, _ sql: String) throws {
                    _ = try handle.run(sql, [], busyTimeoutMillis: SQLiteHandle.blockingBusyTimeoutMillis)
                }
                if path != nil {
                    // WAL: readers never block the writer nor the writer them; FULL: a COMMIT is on disk
                    // (WAL fsynced) before it returns, so a token is durable before its response is sent.
                    try pragma(writer, "PRAGMA journal_mode = WAL")
                }
                try pragma(writer, "PRAGMA synchronous = FULL")
                // Deleted rows (swept tokens, consumed codes) are overwritten, not left in free pages.
                // The system library is built with SQLITE_SECURE_DELETE, as was the one SQLiteNIO
                // vendors; set here so it does not depend on how the library was built.
                try pragma(writer, "PRAGMA secure_delete = ON")
                try pragma(writer, "PRAGMA foreign_keys = ON")
                var readers: [SQLiteHandle] = []
                if let path {
                    for _ in 0..<max(1, readerCount) {
                        let reader = try SQLiteHandle(path: path)
                        handles.append(reader)
                        readers.append(reader)
                        try pragma(reader, "PRAGMA foreign_keys = ON")
                        try pragma(reader, "PRAGMA query_only = ON")
                    }
                }
                return SQLiteExecutor(writer: writer, readers: readers, commitBlocks: path != nil, logger: logger)
            } catch {
                for handle in handles { handle.close() }
                throw error
            }
        }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        guard !state.isShutDown else { throw StorageError.unavailable("storage is shut down") }
        guard let reader else {
            return try await Self.reportingFullDisk { try await writer.perform(body) }
        }
        return try await Self.reportingFullDisk { try await body(reader) }
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await Self.reportingFullDisk { try await writer.perform(body) }
    }

    func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await Self.reportingFullDisk { try await writer.perform(body) }
    }

    /// Runs `body`, turning a full disk (SQLITE_FULL) into `StorageError.unavailable`: the
    /// endpoints answer it with 503 and `Retry-After`, as a database outage. SQLite rolled the
    /// write back and nothing needs restarting: writes succeed again once space is freed.
    static func reportingFullDisk<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as SQLiteFailure where error.isFull {
            throw StorageError.unavailable("the database's disk is full: \(error)")
        }
    }

    var committedBatches: Int {
        get async { writer.committedBatches }
    }

    func shutdown() async throws {
        guard state.markShutDown() else { return }
        await writer.close()
        for handle in handles { handle.close() }
    }
}

/// PostgreSQL: a connection pool on an event loop group of our own; single statements run in
/// autocommit, multi-statement writes in a transaction on one pooled connection.
///
/// `@unchecked`: AsyncKit's pool predates `Sendable` annotations but guards its state with a lock.
final class PostgresExecutor: SQLExecutor, @unchecked Sendable {
    let kind = SQLStorage.DatabaseKind.postgresql
    private let eventLoopGroup: MultiThreadedEventLoopGroup
    private let pool: EventLoopGroupConnectionPool<PostgresConnectionSource>
    private let database: any SQLDatabase
    private let state = ShutdownFlag()

    init(url: String, poolSize: Int, logger: Logger) throws {
        var configuration = try SQLPostgresConfiguration(url: url)
        // `?search_path=schema[,schema…]` puts every table in that schema (it must exist).
        if let path = URLComponents(string: url)?.queryItems?.last(where: { $0.name == "search_path" })?.value, !path.isEmpty {
            configuration.searchPath = path.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }
        configuration.coreConfiguration.options.connectTimeout = .seconds(10)
        let threads = max(1, min(poolSize, System.coreCount))
        let perLoop = max(1, (poolSize + threads - 1) / threads)
        eventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        pool = EventLoopGroupConnectionPool(
            source: PostgresConnectionSource(sqlConfiguration: configuration),
            maxConnectionsPerEventLoop: perLoop,
            requestTimeout: .seconds(30),
            pruneInterval: .seconds(60),
            logger: logger,
            on: eventLoopGroup
        )
        database = pool.database(logger: logger).sql(queryLogLevel: .trace)
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        guard !state.isShutDown else { throw StorageError.unavailable("storage is shut down") }
        return try await Self.reportingOutages { try await body(database) }
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await read(body)
    }

    /// Runs `body`, turning a lost or refused connection into `StorageError.unavailable` (which
    /// the endpoints answer with 503 and `Retry-After`); SQL errors (constraints and the like) pass
    /// through as they are.
    static func reportingOutages<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch where isOutage(error) {
            throw StorageError.unavailable("the database cannot be reached: \(String(reflecting: error))")
        }
    }

    /// Whether `error` says the database could not be reached or the connection was lost: a
    /// connection-level PostgreSQL error, a server error of class 08 (connection exception), 57P
    /// (operator intervention: shutdown, restart) or 53300 (too many connections), the pool timing
    /// out, or a socket error.
    static func isOutage(_ error: any Error) -> Bool {
        if let e = error as? PSQLError {
            if e.code == .server {
                guard let state = e.serverInfo?[.sqlState] else { return false }
                return state.hasPrefix("08") || state.hasPrefix("57P") || state == "53300"
            }
            return e.code == .connectionError || e.code == .serverClosedConnection || e.code == .clientClosedConnection
                || e.code == .uncleanShutdown || e.code == .poolClosed
        }
        return error is ConnectionPoolTimeoutError || error is ConnectionPoolError || error is NIOConnectionError
            || error is IOError || error is ChannelError
    }

    func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        guard !state.isShutDown else { throw StorageError.unavailable("storage is shut down") }
        return try await Self.reportingOutages { try await transactionSession(body) }
    }

    private func transactionSession<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await database.withSession { session in
            try await session.raw("BEGIN").run()
            do {
                let value = try await body(session)
                try await session.raw("COMMIT").run()
                return value
            } catch {
                try? await session.raw("ROLLBACK").run()
                throw error
            }
        }
    }

    func shutdown() async throws {
        guard state.markShutDown() else { return }
        try? await pool.shutdownAsync()
        try await eventLoopGroup.shutdownGracefully()
    }
}

/// A once-only shutdown latch.
final class ShutdownFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var shutDown = false

    var isShutDown: Bool { lock.withLock { shutDown } }

    /// Returns true for the first caller only.
    func markShutDown() -> Bool {
        lock.withLock {
            defer { shutDown = true }
            return !shutDown
        }
    }
}
