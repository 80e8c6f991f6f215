import Foundation
import HummingbirdCore
import Logging
import NIOCore
import NIOSSL
import StrongroomCore

/// What a listener's TLS handshake asks of the client about a certificate.
public enum ClientCertificateRequest: String, Sendable {
    /// No CertificateRequest is sent, so browsers never prompt (`server.request_client_certificate: false`).
    case notRequested = "not requested"
    /// Asked for, not required: RFC 8705 §3 leaves it to each endpoint whether it needs one.
    case requested
    /// The handshake fails without one: the RFC 8705 §5 alias listener.
    case required
}

/// TLS settings of the listeners (FAPI 1.0 Part 2 §8.5, BCP 195).
public enum ServerTLS {
    /// The TLS 1.2 cipher suites of FAPI 1.0 Part 2 §8.5, in preference order. BoringSSL has no
    /// DHE suites, so TLS_DHE_RSA_WITH_AES_{128,256}_GCM_* are absent; the ECDHE_ECDSA equivalents are
    /// added so an EC server certificate works. TLS 1.3 suites are all AEAD and not configurable.
    public static let tls12CipherSuites = [
        "ECDHE-ECDSA-AES128-GCM-SHA256",  // TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        "ECDHE-RSA-AES128-GCM-SHA256",  // TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        "ECDHE-ECDSA-AES256-GCM-SHA384",  // TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
        "ECDHE-RSA-AES256-GCM-SHA384",  // TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
    ]

    /// Server TLS configuration: TLS 1.2 minimum (1.3 is negotiated whenever the client offers it),
    /// FAPI cipher suites, HTTP/1.1 over ALPN, no renegotiation.
    ///
    /// `clientCertificate` says whether the handshake asks for (or requires) a client certificate.
    /// Chains are not verified by BoringSSL: see `ClientCertificateTLSChannel`.
    public static func configuration(
        certificatePath: String, privateKeyPath: String, clientCertificate: ClientCertificateRequest
    ) throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw ConfigurationError(key: "server.tls_certificate", message: "cannot read PEM certificate chain at \(certificatePath)")
        }
        guard !chain.isEmpty else {
            throw ConfigurationError(key: "server.tls_certificate", message: "no certificate in \(certificatePath)")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: privateKeyPath, format: .pem)
        } catch {
            throw ConfigurationError(key: "server.tls_private_key", message: "cannot read PEM private key at \(privateKeyPath)")
        }
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(key)
        )
        tls.minimumTLSVersion = .tlsv12
        tls.maximumTLSVersion = nil
        tls.cipherSuites = tls12CipherSuites.joined(separator: ":")
        tls.applicationProtocols = ["http/1.1"]
        tls.renegotiationSupport = .none
        // Do not ask, ask (optional) or require a client certificate. The trust store is empty on purpose:
        // the custom verification callback replaces BoringSSL's path validation.
        switch clientCertificate {
        case .notRequested: tls.certificateVerification = .none
        case .requested: tls.certificateVerification = .optionalVerification
        case .required: tls.certificateVerification = .noHostnameVerification
        }
        tls.trustRoots = .certificates([])
        tls.sendCANameList = false
        return tls
    }
}

/// A TLS child channel (modelled on HummingbirdTLS's `TLSChannel`) that accepts any client certificate
/// at the TLS layer and keeps the chain the client presented, so handlers can read it with
/// `Channel.nioSSL_peerValidatedCertificateChain()`.
///
/// Accepting every chain is deliberate: `self_signed_tls_client_auth` certificates are not CA-issued,
/// and `tls_client_auth` chains are validated by the engine against the configured trust anchors and the
/// client's registered subject (RFC 8705 §2.1, §2.2). The "validated chain" stored on the handler is
/// therefore only the *presented* chain, and is treated as untrusted input everywhere.
public struct ClientCertificateTLSChannel<BaseChannel: ServerChildChannel>: ServerChildChannel {
    public typealias Value = BaseChannel.Value

    let sslContext: NIOSSLContext
    let baseChannel: BaseChannel

    public init(_ baseChannel: BaseChannel, tlsConfiguration: TLSConfiguration) throws {
        self.sslContext = try NIOSSLContext(configuration: tlsConfiguration)
        self.baseChannel = baseChannel
    }

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let handler = NIOSSLServerHandler(
                context: self.sslContext,
                configuration: .init(),
                customVerificationCallbackWithMetadata: { presented, promise in
                    // Called only when the client sent at least one certificate.
                    guard !presented.isEmpty else {
                        promise.succeed(.failed)
                        return
                    }
                    promise.succeed(.certificateVerified(VerificationMetadata(ValidatedCertificateChain(presented))))
                }
            )
            try channel.pipeline.syncOperations.addHandler(handler)
        }.flatMap {
            self.baseChannel.setup(channel: channel, logger: logger)
        }
    }

    /// Handles the connection with its `ConnectionFacts` as the task-local value the requests read.
    ///
    /// The task stays on the global executor, as Hummingbird runs it. Running it on the connection's
    /// event loop instead (a `TaskExecutor` over the loop) was measured on one core: introspection
    /// gained about a fifth, token requests nothing, and GET /jwks lost about a third, because the
    /// loop then answers each connection as soon as it is read instead of in batches
    /// (docs/benchmarks.md, "Tried and not kept").
    public func handle(value: BaseChannel.Value, logger: Logger) async {
        await ConnectionFacts.$current.withValue(ConnectionFacts(value.channel)) {
            await self.baseChannel.handle(value: value, logger: logger)
        }
    }
}

extension ClientCertificateTLSChannel: HTTPChannelHandler where BaseChannel: HTTPChannelHandler {
    public var responder: HTTPChannelHandler.Responder { baseChannel.responder }
}

extension Channel {
    /// The client certificate chain presented in this connection's TLS handshake, DER, leaf first.
    func strongroomPresentedChainDER() async -> [Data]? {
        guard let chain = try? await self.nioSSL_peerValidatedCertificateChain().get() else { return nil }
        var out: [Data] = []
        for cert in chain {
            guard let der = try? cert.toDERBytes() else { return nil }
            out.append(Data(der))
        }
        return out.isEmpty ? nil : out
    }
}
