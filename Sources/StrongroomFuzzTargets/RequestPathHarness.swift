import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import StrongroomCore
import StrongroomDemo
import StrongroomEngine
import StrongroomJOSE
import StrongroomServer
import StrongroomStorage

/// The whole request path for the `request` and `request-object` targets: a demo kit written to
/// a temporary folder, the engine on SQLite in memory, and the responders of both listeners, as
/// `strongroom serve` builds them (without the sockets and TLS, which NIO and BoringSSL own).
///
/// libFuzzer calls in synchronously, one input at a time, on a thread outside Swift's
/// concurrency pool, so each input waits on a semaphore for its async handling. The database
/// is started afresh every `restartEvery` inputs so that what inputs store (interactions,
/// pushed requests, clients) cannot grow without bound over a million executions.
final class RequestPathHarness: @unchecked Sendable {
    static let shared: RequestPathHarness = {
        do { return try RequestPathHarness() } catch { fatalError("fuzz harness: \(error)") }
    }()

    static let restartEvery = 20_000
    /// A request header (set by the corpus, not by clients) that sends the input to the mutual-TLS
    /// listener presenting demo client N's certificate, N in 1...4.
    static let clientCertHeader = "x-fuzz-client-cert"

    private let config: StrongroomConfiguration
    private let certificates: [String: Data]
    private let client2Key: ServerSigningKey
    private var running: Running
    private var inputs = 0
    /// `STRONGROOM_FUZZ_TRACE=1`: print each answer's status and error, to see where a corpus leads.
    private let trace = ProcessInfo.processInfo.environment["STRONGROOM_FUZZ_TRACE"] == "1"

    private struct Running {
        let engine: Engine
        let storage: SQLStorage
        let main: StrongroomResponder<Engine>
        let mtls: StrongroomResponder<Engine>
    }

    private init() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("strongroom-fuzz-\(getpid())")
        try? FileManager.default.removeItem(at: folder)
        let kit = try DemoKit.write(DemoKit.Options(directory: folder.path))
        var config = try StrongroomConfiguration.load(path: kit.configurationPath, environment: [:])
        // Rate limits would answer most inputs with 429 within a second and hide the engine.
        config.limits.enabled = false
        config.logLevel = "critical"
        self.config = config
        var certificates: [String: Data] = [:]
        for n in 1...4 {
            let pem = try String(contentsOf: folder.appendingPathComponent("client\(n).pem"), encoding: .utf8)
            certificates["\(n)"] = try ClientCertificate.fromPEM(pem).chainDER[0]
        }
        self.certificates = certificates
        // The kit's PEM files open with a comment for the reader; the key starts at its armour.
        let keyFile = try String(contentsOf: folder.appendingPathComponent("client2.key.pem"), encoding: .utf8)
        client2Key = try ServerSigningKey(privateKeyPEM: String(keyFile[(keyFile.range(of: "-----BEGIN")?.lowerBound ?? keyFile.startIndex)...]),
                                          algorithm: .es256)
        running = try Self.blocking { [config] in try await Self.start(config) }
    }

    private static func start(_ config: StrongroomConfiguration) async throws -> Running {
        var logger = Logger(label: "strongroom.fuzz")
        logger.logLevel = .critical
        let storage = try await SQLStorage.open(url: "sqlite::memory:", sealer: KeyEncryptionKeyRing(current: .generate()), logger: logger)
        try await storage.migrate()
        let engine = try await Engine.start(configuration: config, storage: storage, logger: logger, seed: true)
        let pages = try await PageRenderer.bundled(basePath: "")
        func responder(_ listener: Listener) -> StrongroomResponder<Engine> {
            StrongroomResponder(engine: engine, settings: config.server, issuer: config.service.issuer, pages: pages,
                                listener: listener, logger: logger, metricsToken: config.admin.token)
        }
        return Running(engine: engine, storage: storage, main: responder(.main), mtls: responder(.mtlsAlias))
    }

    private func restartIfDue() {
        inputs += 1
        guard inputs % Self.restartEvery == 0 else { return }
        let old = running
        running = (try? Self.blocking { [config] in
            await old.engine.shutdown()
            try await old.storage.shutdown()
            return try await Self.start(config)
        }) ?? { fatalError("fuzz harness: restart failed") }()
    }

    // MARK: Targets

    func request(_ data: Data) -> String? {
        guard let (head, body) = Self.decodeHTTP1(data) else { return nil }
        restartIfDue()
        var chain: [Data]?
        if let n = head.headerFields[HTTPField.Name(Self.clientCertHeader)!] { chain = certificates[n].map { [$0] } }
        let request = Request(head: head, body: RequestBody(buffer: body))
        return respond(request, chain: chain, what: String(decoding: data.prefix(300), as: UTF8.self))
    }

    /// Claims from the input (a JSON object; `null` removes a claim) over a pushed request that
    /// passes, signed with demo client 2's key and pushed by that client over mutual TLS.
    func requestObject(_ data: Data) -> String? {
        guard let claims = JSONValue.parse(data)?.objectValue else { return nil }
        restartIfDue()
        let now = Int(Date().timeIntervalSince1970)
        var payload: [String: JSONValue] = [
            "iss": .string(DemoKit.fapiClient2), "aud": .string(config.service.issuer), "client_id": .string(DemoKit.fapiClient2),
            "exp": .number(Double(now + 300)), "nbf": .number(Double(now - 10)), "iat": .number(Double(now)),
            "redirect_uri": .string(config.service.issuer + "/demo/callback"), "response_type": "code id_token",
            "scope": "openid accounts", "state": "fuzz-state", "nonce": "fuzz-nonce",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256",
        ]
        for (name, value) in claims {
            if value == .null { payload[name] = nil } else { payload[name] = value }
        }
        guard let jwt = try? client2Key.sign(payload: payload, type: "oauth-authz-req+jwt") else { return nil }
        let form = FormCoding.encode([Param("client_id", DemoKit.fapiClient2), Param("request", jwt)])
        var fields = HTTPFields()
        fields[.contentType] = "application/x-www-form-urlencoded"
        let head = HTTPRequest(method: .post, scheme: "https", authority: "localhost", path: "/par", headerFields: fields)
        let request = Request(head: head, body: RequestBody(buffer: ByteBuffer(string: form)))
        return respond(request, chain: certificates["2"].map { [$0] }, what: JSONValue.object(payload).serializedString())
    }

    // MARK: Plumbing

    private func respond(_ request: Request, chain: [Data]?, what: String) -> String? {
        let responder = chain == nil ? running.main : running.mtls
        let context = StrongroomRequestContext(remoteAddress: "192.0.2.7", presentedChain: chain, logger: Logger(label: "strongroom.fuzz"))
        let (status, text) = (try? Self.blocking { () async throws -> (Int, String) in
            let response = try await responder.respond(to: request, context: context)
            let collector = BodyCollector()
            try await response.body.write(collector)
            return (Int(response.status.code), collector.text)
        }) ?? (-1, "")
        if status == -1 { return "the responder threw for \(what)" }
        if trace {
            let error = JSONValue.parse(Data(text.utf8))?["error"]?.stringValue ?? "-"
            print("\(status) \(error) \(what.prefix(80).replacingOccurrences(of: "\r\n", with: " | "))")
        }
        return Self.violation(status: status, body: text, what: what)
    }

    /// The invariants of the request path: never a server error, and error texts only in the
    /// characters RFC 6749 §5.2 allows (the check the engine applies in one place).
    static func violation(status: Int, body: String, what: String) -> String? {
        if status >= 500 { return "HTTP \(status) for \(what): \(body.prefix(500))" }
        if let description = JSONValue.parse(Data(body.utf8))?["error_description"]?.stringValue, !ErrorText.isAllowed(description) {
            return "error_description \(description.debugDescription) for \(what)"
        }
        return nil
    }

    /// The first request in `data` as NIO's HTTP/1.1 decoder and the HTTP types codec read it
    /// (what Hummingbird's HTTP/1 channel does), or nil where NIO refuses the bytes.
    static func decodeHTTP1(_ data: Data) -> (HTTPRequest, ByteBuffer)? {
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish() }
        do {
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
            try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: true))
            try channel.writeInbound(ByteBuffer(bytes: data))
        } catch {
            return nil
        }
        var head: HTTPRequest?
        var body = ByteBuffer()
        while let part = try? channel.readInbound(as: HTTPRequestPart.self) {
            switch part {
            case .head(let h): head = h
            case .body(var chunk): body.writeBuffer(&chunk)
            case .end: if let head { return (head, body) } else { return nil }
            }
        }
        return nil
    }

    /// Runs async work to completion from a thread that is not in Swift's concurrency pool.
    static func blocking<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox<T>()
        Task {
            do { box.result = .success(try await work()) } catch { box.result = .failure(error) }
            done.signal()
        }
        done.wait()
        return try box.result!.get()
    }
}

private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}

private final class BodyCollector: ResponseBodyWriter {
    var text = ""
    func write(_ buffer: ByteBuffer) async throws { text += String(buffer: buffer) }
    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
