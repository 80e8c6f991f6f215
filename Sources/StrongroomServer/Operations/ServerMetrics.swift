import Foundation
import Metrics
import Prometheus
import Synchronization

/// Prometheus as the swift-metrics backend, and the per-request metrics of the HTTP layer.
public enum ServerMetrics {
    private final class State: @unchecked Sendable {
        let lock = NSLock()
        var registry: PrometheusCollectorRegistry?
    }
    private static let state = State()

    /// Bootstraps swift-metrics with a Prometheus registry once per process and returns that registry.
    /// Later calls return the same registry. (`MetricsSystem.bootstrap` may only run once per process:
    /// if something else bootstrapped it first, call `use(registry:)` instead of this.)
    @discardableResult
    public static func bootstrapPrometheus() -> PrometheusCollectorRegistry {
        state.lock.lock()
        defer { state.lock.unlock() }
        if let r = state.registry { return r }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        state.registry = registry
        cachedHandles.withLock { $0.removeAll() }
        return registry
    }

    /// Uses a registry that the host process already bootstrapped as the metrics backend.
    public static func use(registry: PrometheusCollectorRegistry) {
        state.lock.lock()
        defer { state.lock.unlock() }
        state.registry = registry
        cachedHandles.withLock { $0.removeAll() }
    }

    /// The registry `/metrics` exposes, if one was bootstrapped.
    public static var registry: PrometheusCollectorRegistry? {
        state.lock.lock()
        defer { state.lock.unlock() }
        return state.registry
    }

    /// `strongroom_requests_total{endpoint,status}` and `strongroom_request_duration_seconds{endpoint}`.
    static func record(endpoint: Endpoint, status: Int, nanoseconds: Int64) {
        let (counter, timer) = handles(endpoint: endpoint, status: status)
        counter.increment()
        timer.recordNanoseconds(nanoseconds)
    }

    /// The metric objects of one endpoint and status, made once: asking swift-metrics for them on every
    /// request would look them up in the backend's registry (a lock and a string-keyed table) each time.
    /// Emptied when the backend changes, so no handle of an earlier backend is kept.
    private struct HandleKey: Hashable { var endpoint: Endpoint; var status: Int }
    private static let cachedHandles = Mutex<[HandleKey: (Metrics.Counter, Metrics.Timer)]>([:])

    private static func handles(endpoint: Endpoint, status: Int) -> (Metrics.Counter, Metrics.Timer) {
        let key = HandleKey(endpoint: endpoint, status: status)
        if let known = cachedHandles.withLock({ $0[key] }) { return known }
        let made = (
            Metrics.Counter(label: "strongroom_requests_total", dimensions: [("endpoint", endpoint.rawValue), ("status", String(status))]),
            Metrics.Timer(label: "strongroom_request_duration_seconds", dimensions: [("endpoint", endpoint.rawValue)])
        )
        cachedHandles.withLock { $0[key] = made }
        return made
    }

    /// Prometheus text exposition format 0.0.4.
    static func exposition() -> Data {
        guard let registry else { return Data() }
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return Data(buffer)
    }
}
