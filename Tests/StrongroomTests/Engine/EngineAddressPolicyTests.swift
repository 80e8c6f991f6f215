import Logging
import Testing
@testable import StrongroomCore
@testable import StrongroomEngine

@Suite struct EngineAddressPolicyTests {
    @Test(arguments: ["8.8.8.8", "1.1.1.1", "151.101.1.69", "2606:4700:4700::1111", "2a00:1450:4009:81f::200e"])
    func publicAddresses(_ a: String) { #expect(AddressPolicy.isPublic(a)) }

    @Test(arguments: ["127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
                      "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "192.0.2.1", "::1", "::", "fe80::1", "fd00::1",
                      "fc12::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "2001:db8::1", "not-an-ip", "",
                      // Forms that embed or translate to IPv4 (item 13): refused whatever they embed.
                      "::ffff:8.8.8.8", "::127.0.0.1", "::8.8.8.8", "64:ff9b::7f00:1", "64:ff9b::808:808", "64:ff9b:1::a00:1",
                      "2002:7f00:1::1", "2002:808:808::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "100::1"])
    func nonPublicAddresses(_ a: String) { #expect(!AddressPolicy.isPublic(a), "\(a)") }

    @Test func resolvesLocalhostToLoopback() async {
        let addresses = await AddressPolicy.resolve("localhost")
        #expect(!addresses.isEmpty)
        #expect(addresses.allSatisfy { !AddressPolicy.isPublic($0) })
    }

    @Test func refusesAJWKSURIOnLoopback() async throws {
        let h = try await EngineHarness.make()
        defer { Task { await h.close() } }
        var metadata = try #require(try await h.engine.clients.lookup("fapi")).metadata
        metadata.jwks = nil
        metadata.jwksURI = "https://127.0.0.1:9/jwks.json"
        let resolver = ClientKeyResolver(logger: .init(label: "test"))
        do {
            _ = try await resolver.keys(for: metadata)
            Issue.record("fetched a loopback jwks_uri")
        } catch {
            #expect(error.code == .invalidClient)
            #expect(error.errorDescription.contains("public address"))
        }
    }

    /// Item 13: a failing `jwks_uri` costs one outbound attempt, however many requests name it.
    @Test func failuresAreCachedAndConcurrentFetchesCoalesce() async throws {
        var metadata = ClientMetadata(redirectURIs: ["https://rp.test/cb"], tokenEndpointAuthMethod: .privateKeyJWT)
        metadata.jwksURI = "https://localhost:9/jwks.json"
        let resolver = ClientKeyResolver(logger: .init(label: "test"))
        let shared = metadata
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<20 { group.addTask { _ = try? await resolver.keys(for: shared) } }
        }
        #expect(resolver.fetchCount == 1)
        for _ in 0..<5 {
            do { _ = try await resolver.keys(for: metadata); Issue.record("fetched") } catch {
                #expect(error.code == .invalidClient && error.errorDescription.contains("public address"))
            }
        }
        #expect(resolver.fetchCount == 1)
        metadata.jwksURI = "http://8.8.8.8/jwks.json"
        do { _ = try await resolver.keys(for: metadata); Issue.record("fetched over http") } catch {
            #expect(error.errorDescription == "The client's jwks_uri is not a valid https URL.")
        }
        await resolver.shutdown()
    }
}
