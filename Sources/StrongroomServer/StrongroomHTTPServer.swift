import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import StrongroomCore
import StrongroomEngine
import UnixSignals

/// The HTTPS front end: TLS listeners, routing, pages and metrics over an `Engine`.
///
/// ```swift
/// let engine = try await Engine.start(configuration: config, storage: storage)
/// let server = StrongroomHTTPServer(configuration: config, engine: engine, logger: logger)
/// try await server.run()          // until SIGINT / SIGTERM
/// await engine.shutdown()
/// ```
public struct StrongroomHTTPServer: Sendable {
    /// Called once per listener when it is accepting connections, with the bound port
    /// (useful when the configuration asks for port 0).
    public typealias ListeningHandler = @Sendable (_ listener: Listener, _ port: Int) async -> Void

    public let configuration: StrongroomConfiguration
    let engine: Engine
    let logger: Logger
    let onListening: ListeningHandler?
    /// How often expired rows are swept.
    var sweepInterval: Duration = .seconds(60)
    /// How often the signing keys are re-read (the rotation rules of `KeyManager` rest on it).
    var keyReloadInterval: Duration = .milliseconds(Int64(KeyManager.reloadInterval * 1000))

    public init(configuration: StrongroomConfiguration, engine: Engine, logger: Logger, onListening: ListeningHandler? = nil) {
        self.configuration = configuration
        self.engine = engine
        self.logger = logger
        self.onListening = onListening
    }

    /// Runs the main listener (and the mTLS alias listener when configured) plus the expiry sweeper,
    /// until SIGINT or SIGTERM, then shuts down gracefully (in-flight requests finish).
    public func run() async throws {
        let group = ServiceGroup(configuration: .init(
            services: try await services(),
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
        try await group.run()
    }

    /// The services `run()` runs, for hosts that manage their own `ServiceGroup`.
    /// Bootstraps Prometheus as the swift-metrics backend unless a registry is already in use.
    public func services() async throws -> [any Service] {
        if ServerMetrics.registry == nil { ServerMetrics.bootstrapPrometheus() }
        let server = configuration.server
        guard let certificate = server.tlsCertificate, let key = server.tlsPrivateKey else {
            throw ConfigurationError(key: "server.tls_certificate", message: "is required (Strongroom serves only over TLS)")
        }
        let routes = RouteTable(issuer: configuration.service.issuer, resourceAPI: server.resourceAPI)
        let pages = try await PageRenderer.bundled(basePath: routes.basePath)

        // Shut down in reverse order: listeners first (draining requests), the background work last.
        var services: [any Service] = [
            ExpirySweeper(storage: engine.storage, interval: sweepInterval, logger: logger.with(label: "strongroom.sweeper")),
            KeyReloader(keys: engine.keys, interval: keyReloadInterval, logger: logger.with(label: "strongroom.keys")),
            PendingRevocationWriter(engine: engine, interval: .seconds(1)),
        ]
        services.append(try listener(
            .main, host: server.host, port: server.port, certificate: certificate, key: key, pages: pages
        ))
        if let alias = server.mtlsAlias {
            services.append(try listener(
                .mtlsAlias, host: alias.host, port: alias.port, certificate: certificate, key: key, pages: pages
            ))
        }
        return services
    }

    func listener(_ kind: Listener, host: String, port: Int, certificate: String, key: String, pages: PageRenderer) throws -> any Service {
        let clientCertificate: ClientCertificateRequest = kind == .mtlsAlias
            ? .required : (configuration.server.requestClientCertificate ? .requested : .notRequested)
        let tls = try ServerTLS.configuration(
            certificatePath: certificate, privateKeyPath: key, clientCertificate: clientCertificate
        )
        let logger = self.logger
        let responder = StrongroomResponder(
            engine: engine, settings: configuration.server, issuer: configuration.service.issuer,
            pages: pages, listener: kind, logger: logger, metricsToken: configuration.admin.token,
            metricsPublic: configuration.metrics.isPublic
        )
        let builder = HTTPServerBuilder { httpResponder in
            try ClientCertificateTLSChannel(
                HTTP1Channel(responder: httpResponder,
                             configuration: .init(additionalChannelHandlers: [CloseAfterResponseHandler()], idleTimeout: .seconds(60))),
                tlsConfiguration: tls
            )
        }
        let onListening = self.onListening
        return Application(
            responder: responder,
            server: builder,
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? port
                logger.notice("listening", metadata: [
                    "listener": .string(kind.rawValue), "host": .string(host), "port": .stringConvertible(bound),
                    "client_certificate": .string(clientCertificate.rawValue),
                ])
                await onListening?(kind, bound)
            },
            logger: logger
        )
    }
}

extension Logger {
    func with(label: String) -> Logger {
        var l = Logger(label: label)
        l.logLevel = self.logLevel
        return l
    }
}
