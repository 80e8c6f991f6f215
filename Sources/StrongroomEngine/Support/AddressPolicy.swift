import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the server may send requests on a client's behalf (`jwks_uri`): public addresses only,
/// so a registrant cannot make the server reach loopback, private, link-local or other internal
/// hosts (server-side request forgery, RFC 9700 §4.x, OWASP SSRF). The check runs on the addresses
/// the host name resolves to, and the fetch then connects to the very address that was checked
/// (ClientKeyResolver pins it), so a DNS answer that changes in between (rebinding) is never used.
/// IPv6 forms that embed or translate to an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64,
/// 6to4, Teredo) are refused outright: whatever they lead to is decided by a gateway, not here.
enum AddressPolicy {
    /// True when `address` (IPv4 or IPv6 text) is a globally routable unicast address.
    static func isPublic(_ address: String) -> Bool {
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 {
            let b = withUnsafeBytes(of: v4.s_addr) { Array($0) }  // network order
            switch (b[0], b[1]) {
            case (0, _), (10, _), (127, _): return false                      // this host, private, loopback
            case (100, 64...127): return false                               // shared address space
            case (169, 254): return false                                    // link-local
            case (172, 16...31): return false                                // private
            case (192, 168): return false                                    // private
            case (192, 0) where b[2] == 0 || b[2] == 2: return false         // IETF protocol assignments, TEST-NET-1
            case (198, 18...19): return false                                // benchmarking
            case (198, 51) where b[2] == 100: return false                   // TEST-NET-2
            case (203, 0) where b[2] == 113: return false                    // TEST-NET-3
            case (224...255, _): return false                                // multicast, reserved, broadcast
            default: return true
            }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, address, &v6) == 1 {
            let b = withUnsafeBytes(of: v6) { Array($0) }
            if b.allSatisfy({ $0 == 0 }) { return false }                                   // ::
            if b[0..<15].allSatisfy({ $0 == 0 }) && b[15] == 1 { return false }              // ::1
            if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xFF && b[11] == 0xFF { return false } // ::ffff:0:0/96 IPv4-mapped
            if b[0..<12].allSatisfy({ $0 == 0 }) { return false }                             // ::/96 IPv4-compatible (deprecated)
            if b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B {                 // 64:ff9b::/96 NAT64, 64:ff9b:1::/48 local NAT64
                return false
            }
            if b[0] == 0x01 && b[1] == 0x00 && b[2..<8].allSatisfy({ $0 == 0 }) { return false } // 100::/64 discard-only
            if b[0] == 0x20 && b[1] == 0x02 { return false }                                 // 2002::/16 6to4
            if b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00 { return false } // 2001::/32 Teredo
            if b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] < 0x20 { return false }  // 2001::/23 IETF protocol assignments
            if b[0] & 0xFE == 0xFC { return false }                                         // fc00::/7 unique local
            if b[0] == 0xFE && b[1] & 0xC0 == 0x80 { return false }                          // fe80::/10 link-local
            if b[0] == 0xFF { return false }                                                // multicast
            if b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0D && b[3] == 0xB8 { return false } // documentation
            return true
        }
        return false
    }

    /// The addresses a host name resolves to (blocking lookup, run off the event loops).
    static func resolve(_ host: String) async -> [String] {
        await offloadBlocking {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var result: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else { return [] }
            defer { freeaddrinfo(first) }
            var out: [String] = []
            var cursor: UnsafeMutablePointer<addrinfo>? = first
            while let ai = cursor {
                var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
                if ai.pointee.ai_family == AF_INET, let sa = ai.pointee.ai_addr {
                    sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                        var a = sin.pointee.sin_addr
                        if inet_ntop(AF_INET, &a, &buffer, socklen_t(buffer.count)) != nil { out.append(String(cString: buffer)) }
                    }
                } else if ai.pointee.ai_family == AF_INET6, let sa = ai.pointee.ai_addr {
                    sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                        var a = sin6.pointee.sin6_addr
                        if inet_ntop(AF_INET6, &a, &buffer, socklen_t(buffer.count)) != nil { out.append(String(cString: buffer)) }
                    }
                }
                cursor = ai.pointee.ai_next
            }
            return out
        }
    }
}
