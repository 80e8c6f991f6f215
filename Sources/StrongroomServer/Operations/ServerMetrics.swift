import Foundation
import Metrics
import Prometheus

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
        return registry
    }

    /// Uses a registry that the host process already bootstrapped as the metrics backend.
    public static func use(registry: PrometheusCollectorRegistry) {
        state.lock.lock()
        defer { state.lock.unlock() }
        state.registry = registry
    }

    /// The registry `/metrics` exposes, if one was bootstrapped.
    public static var registry: PrometheusCollectorRegistry? {
        state.lock.lock()
        defer { state.lock.unlock() }
        return state.registry
    }

    /// `strongroom_requests_total{endpoint,status}` and `strongroom_request_duration_seconds{endpoint}`.
    static func record(endpoint: Endpoint, status: Int, nanoseconds: Int64) {
        Counter(label: "strongroom_requests_total", dimensions: [("endpoint", endpoint.rawValue), ("status", String(status))])
            .increment()
        Metrics.Timer(label: "strongroom_request_duration_seconds", dimensions: [("endpoint", endpoint.rawValue)])
            .recordNanoseconds(nanoseconds)
    }

    /// Prometheus text exposition format 0.0.4.
    static func exposition() -> Data {
        guard let registry else { return Data() }
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return Data(buffer)
    }
}
