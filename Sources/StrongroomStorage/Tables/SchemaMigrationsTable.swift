import Foundation

/// One applied migration.
struct SchemaMigration: Sendable, Equatable {
    var version: Int
    var name: String
    var appliedAt: Date
}

/// `schema_migrations`: which migrations `migrate` has applied (`Schema.createMigrationsTable`).
extension SchemaMigration: TableRecord {
    static let schema = TableSchema<SchemaMigration>("schema_migrations", primaryKey: ["version"], columns: [
        .integer("version", \.version),
        .text("name", \.name),
        .date("applied_at", \.appliedAt),
    ])

    init(row: StoredRow<SchemaMigration>) throws {
        self.init(version: try row[\.version], name: try row[\.name], appliedAt: try row[\.appliedAt])
    }
}
