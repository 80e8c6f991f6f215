import Foundation
import NIOCore
import Synchronization

/// What a request learns from its connection rather than from its bytes: the TCP peer and the client
/// certificate chain of the TLS handshake. Both are fixed for the life of the connection (TLS
/// renegotiation is refused, `ServerTLS`), so they are read once per connection: the chain is taken out
/// of NIOSSL and copied to DER on the first request that asks for it, and reused by the next ones.
///
/// The connection's task carries it as a task-local value (`ClientCertificateTLSChannel.handle`), which
/// is how `StrongroomRequestContext`, built by Hummingbird for every request, finds it.
final class ConnectionFacts: Sendable {
    @TaskLocal static var current: ConnectionFacts?

    let channel: any Channel
    let remoteAddress: String?
    private let chain = Mutex<[Data]??>(nil)

    init(_ channel: any Channel) {
        self.channel = channel
        self.remoteAddress = channel.remoteAddress?.ipAddress
    }

    /// The presented chain, DER, leaf first (nil: none presented).
    func presentedChain() async -> [Data]? {
        if let known = chain.withLock({ $0 }) { return known }
        let read = await channel.strongroomPresentedChainDER()
        chain.withLock { $0 = .some(read) }
        return read
    }
}
