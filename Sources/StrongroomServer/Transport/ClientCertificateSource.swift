import Foundation
import StrongroomCore
import StrongroomJOSE
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An IP address as raw bytes (4 for IPv4, 16 for IPv6; IPv4-mapped IPv6 addresses are folded to IPv4).
struct IPAddressBytes: Equatable, Sendable {
    var bytes: [UInt8]

    init?(_ text: String) {
        var s = text.trimmingCharacters(in: .whitespaces)
        if s.hasPrefix("["), s.hasSuffix("]") { s = String(s.dropFirst().dropLast()) }
        if let zone = s.firstIndex(of: "%") { s = String(s[..<zone]) }
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, s, &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
        } else if inet_pton(AF_INET6, s, &v6) == 1 {
            let raw = withUnsafeBytes(of: &v6) { Array($0) }
            // ::ffff:a.b.c.d is the IPv4 peer of a dual-stack socket.
            if raw[0..<10].allSatisfy({ $0 == 0 }), raw[10] == 0xFF, raw[11] == 0xFF {
                bytes = Array(raw[12..<16])
            } else {
                bytes = raw
            }
        } else {
            return nil
        }
    }
}

/// The configured reverse proxies (`server.trusted_proxies`): exact addresses or CIDR ranges, IPv4 or IPv6.
public struct TrustedProxies: Sendable {
    private struct Entry: Sendable { var network: IPAddressBytes; var prefix: Int }
    private let entries: [Entry]

    /// Entries that are not addresses or ranges are ignored (configuration checking reports them).
    public init(_ list: [String]) {
        entries = list.compactMap { item in
            let parts = item.split(separator: "/", maxSplits: 1).map(String.init)
            guard let first = parts.first, let addr = IPAddressBytes(first) else { return nil }
            let bits = addr.bytes.count * 8
            var prefix = bits
            if parts.count == 2 {
                guard let p = Int(parts[1]), (0...bits).contains(p) else { return nil }
                prefix = p
            }
            return Entry(network: addr, prefix: prefix)
        }
    }

    /// Whether the TCP peer address is a trusted proxy.
    public func contains(_ address: String?) -> Bool {
        // Most deployments list no proxy: no address parsing on every request then.
        guard !entries.isEmpty, let address, let peer = IPAddressBytes(address) else { return false }
        return entries.contains { e in
            guard e.network.bytes.count == peer.bytes.count else { return false }
            var remaining = e.prefix
            for i in 0..<peer.bytes.count where remaining > 0 {
                let take = min(8, remaining)
                let mask: UInt8 = take == 8 ? 0xFF : ~(0xFF >> UInt8(take))
                if (peer.bytes[i] & mask) != (e.network.bytes[i] & mask) { return false }
                remaining -= take
            }
            return true
        }
    }
}

/// Where the client certificate of a request comes from (RFC 8705 §3, RFC 9440; README, "TLS, mutual TLS and reverse proxies").
public enum ClientCertificateDecision: Equatable, Sendable {
    /// The chain presented in this TLS connection, DER, leaf first.
    case tls([Data])
    /// The RFC 9440 header values forwarded by a trusted proxy.
    case forwarded(certificate: String, chain: String?)
    case none
}

public enum ClientCertificateSource {
    /// Decides which certificate applies.
    ///
    /// - From a trusted proxy only the forwarded header counts (RFC 9440 §4): the proxy terminated the
    ///   client's TLS, so a chain in *this* TLS connection is the proxy's own certificate, never the
    ///   client's. No header (or an empty one) means the client presented no certificate, even when the
    ///   proxy's own chain would pass as a client certificate.
    /// - From any other peer the forwarded header is ignored: only the TLS chain counts.
    public static func decide(
        tlsChain: [Data]?,
        peerIsTrustedProxy: Bool,
        forwardedCertificate: String?,
        forwardedChain: String?
    ) -> ClientCertificateDecision {
        if peerIsTrustedProxy {
            guard let header = forwardedCertificate?.trimmingCharacters(in: .whitespaces), !header.isEmpty else { return .none }
            let chain = forwardedChain?.trimmingCharacters(in: .whitespaces)
            return .forwarded(certificate: header, chain: (chain?.isEmpty ?? true) ? nil : chain)
        }
        if let tlsChain, !tlsChain.isEmpty { return .tls(tlsChain) }
        return .none
    }

    /// The chain header that goes with a certificate header: `Client-Cert` → `Client-Cert-Chain`.
    public static func chainHeaderName(for certificateHeader: String) -> String {
        certificateHeader.lowercased() + "-chain"
    }

    /// Header names that must never reach the engine as ordinary headers (forwarded certificates are
    /// passed only as `TransportRequest.clientCertificate`, and only from trusted proxies).
    public static func strippedHeaderNames(certificateHeader: String) -> Set<String> {
        let h = certificateHeader.lowercased()
        return [h, chainHeaderName(for: h), "client-cert", "client-cert-chain"]
    }

    /// Builds the engine's certificate value. A certificate that cannot be parsed counts as none:
    /// the endpoint that needs one then refuses the request.
    public static func certificate(for decision: ClientCertificateDecision) -> ClientCertificate? {
        switch decision {
        case .none:
            return nil
        case .tls(let chain):
            if let hit = parsedCertificates.get(chain) { return hit }
            guard let cert = try? ClientCertificate(chainDER: chain) else { return nil }
            parsedCertificates.put(chain, cert)
            return cert
        case .forwarded(let header, let chain):
            return try? ClientCertificate.fromRFC9440(header: header, chainHeader: chain)
        }
    }
}

/// Parsed certificates by their DER chain: a keep-alive connection presents the same chain on
/// every request, and parsing X.509 showed up in profiles of mTLS token requests.
let parsedCertificates = BoundedCache<[Data], ClientCertificate>(capacity: 1024)
