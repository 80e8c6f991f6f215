import SQLKit

/// The schema, as numbered migrations. A migration is never edited once released: changes are new
/// migrations appended to `all`.
///
/// One SQL text serves SQLite and PostgreSQL: identifiers, hashes and JSON are TEXT, dates are
/// BIGINT milliseconds since the Unix epoch, and no column is boolean.
enum Schema {
    struct Migration: Sendable {
        let version: Int
        let name: String
        let statements: [String]
    }

    static let createMigrationsTable = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at BIGINT NOT NULL
        )
        """

    static let all: [Migration] = [
        Migration(version: 1, name: "initial", statements: [
            """
            CREATE TABLE IF NOT EXISTS clients (
                client_id TEXT PRIMARY KEY,
                metadata TEXT NOT NULL,
                secret_hash TEXT,
                secret_for_hmac TEXT,
                secret_expires_at BIGINT,
                registration_access_token_hash TEXT,
                source TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS users (
                subject TEXT PRIMARY KEY,
                username TEXT NOT NULL UNIQUE,
                password_hash TEXT NOT NULL,
                claims TEXT NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS grants (
                id TEXT PRIMARY KEY,
                subject TEXT NOT NULL,
                client_id TEXT NOT NULL,
                scopes TEXT NOT NULL,
                claims TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                revoked_at BIGINT
            )
            """,
            "CREATE INDEX IF NOT EXISTS grants_subject_client ON grants (subject, client_id)",
            """
            CREATE TABLE IF NOT EXISTS authorization_codes (
                code_hash TEXT PRIMARY KEY,
                id TEXT NOT NULL,
                client_id TEXT NOT NULL,
                subject TEXT NOT NULL,
                redirect_uri TEXT,
                scopes TEXT NOT NULL,
                nonce TEXT,
                code_challenge TEXT,
                code_challenge_method TEXT,
                auth_time BIGINT NOT NULL,
                acr TEXT,
                amr TEXT NOT NULL,
                claims_request TEXT,
                grant_id TEXT,
                profile TEXT NOT NULL,
                dpop_jkt TEXT,
                expires_at BIGINT NOT NULL,
                created_at BIGINT NOT NULL,
                consumed_at BIGINT
            )
            """,
            "CREATE INDEX IF NOT EXISTS authorization_codes_id ON authorization_codes (id)",
            "CREATE INDEX IF NOT EXISTS authorization_codes_expires_at ON authorization_codes (expires_at)",
            """
            CREATE TABLE IF NOT EXISTS tokens (
                token_hash TEXT PRIMARY KEY,
                id TEXT NOT NULL,
                kind TEXT NOT NULL,
                client_id TEXT NOT NULL,
                subject TEXT,
                scopes TEXT NOT NULL,
                code_id TEXT,
                grant_id TEXT,
                family_id TEXT NOT NULL,
                certificate_thumbprint TEXT,
                dpop_jkt TEXT,
                profile TEXT NOT NULL,
                auth_time BIGINT,
                acr TEXT,
                claims_request TEXT,
                expires_at BIGINT NOT NULL,
                created_at BIGINT NOT NULL,
                revoked_at BIGINT,
                rotated_at BIGINT
            )
            """,
            "CREATE INDEX IF NOT EXISTS tokens_id ON tokens (id)",
            "CREATE INDEX IF NOT EXISTS tokens_family_id ON tokens (family_id)",
            "CREATE INDEX IF NOT EXISTS tokens_code_id ON tokens (code_id)",
            "CREATE INDEX IF NOT EXISTS tokens_grant_id ON tokens (grant_id)",
            "CREATE INDEX IF NOT EXISTS tokens_expires_at ON tokens (expires_at)",
            """
            CREATE TABLE IF NOT EXISTS pushed_requests (
                request_uri_hash TEXT PRIMARY KEY,
                client_id TEXT NOT NULL,
                parameters TEXT NOT NULL,
                request_object_claims TEXT,
                profile TEXT NOT NULL,
                expires_at BIGINT NOT NULL,
                created_at BIGINT NOT NULL,
                consumed_at BIGINT
            )
            """,
            "CREATE INDEX IF NOT EXISTS pushed_requests_expires_at ON pushed_requests (expires_at)",
            """
            CREATE TABLE IF NOT EXISTS replay_cache (
                namespace TEXT NOT NULL,
                value TEXT NOT NULL,
                expires_at BIGINT NOT NULL,
                PRIMARY KEY (namespace, value)
            )
            """,
            "CREATE INDEX IF NOT EXISTS replay_cache_expires_at ON replay_cache (expires_at)",
            """
            CREATE TABLE IF NOT EXISTS signing_keys (
                kid TEXT PRIMARY KEY,
                algorithm TEXT NOT NULL,
                private_key_pem TEXT NOT NULL,
                public_jwk TEXT NOT NULL,
                status TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                activated_at BIGINT,
                retired_at BIGINT
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS sessions (
                id_hash TEXT PRIMARY KEY,
                subject TEXT NOT NULL,
                auth_time BIGINT NOT NULL,
                acr TEXT,
                amr TEXT NOT NULL,
                csrf_token TEXT NOT NULL,
                expires_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX IF NOT EXISTS sessions_expires_at ON sessions (expires_at)",
            """
            CREATE TABLE IF NOT EXISTS interactions (
                id_hash TEXT PRIMARY KEY,
                client_id TEXT NOT NULL,
                request TEXT NOT NULL,
                profile TEXT NOT NULL,
                subject TEXT,
                expires_at BIGINT NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX IF NOT EXISTS interactions_expires_at ON interactions (expires_at)",
        ]),
        // No DDL: from this version on, signing_keys.private_key_pem and clients.secret_for_hmac
        // hold `enc:v1:` envelopes. `SQLStorage.migrate` encrypts the plain values an older
        // database holds, in the same transaction, when a key-encryption key is configured.
        Migration(version: sealedSecretsVersion, name: "secrets encrypted at rest", statements: []),
        // RFC 9449 §10.1: the DPoP key a pushed request was bound to by the proof sent to /par.
        Migration(version: 3, name: "pushed request DPoP binding", statements: [
            "ALTER TABLE pushed_requests ADD COLUMN dpop_jkt TEXT",
        ]),
    ]

    /// The migration from which recoverable secrets are stored encrypted.
    static let sealedSecretsVersion = 2

    static var latestVersion: Int { all.map(\.version).max() ?? 0 }
}
