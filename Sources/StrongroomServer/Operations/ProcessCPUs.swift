import Foundation
import NIOCore

/// How many CPUs this process may run on, and the thread counts that follow from it.
///
/// SwiftNIO sizes its shared event-loop group and blocking pool from `System.coreCount`, which on
/// Linux reads the cgroup quota and cpuset but not the scheduler affinity mask: a server started
/// with `taskset -c 0` (or a systemd `CPUAffinity=`) on a two-core machine ran two event loops on
/// its one core. The connections were then spread over two loops that woke and preempted each other
/// and the Swift-concurrency threads, about two context switches per request (docs/benchmarks.md).
/// The mask is read from `/proc/self/status` (`Cpus_allowed_list`; NIO's own reader is internal);
/// the smaller of the two counts wins, so a cgroup limit still applies.
public enum ProcessCPUs {
    /// CPUs in this process's affinity mask, or nil where it cannot be read.
    public static var affinityCount: Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }) else { return nil }
        return cpuListCount(line.dropFirst("Cpus_allowed_list:".count))
    }

    /// Counts a kernel CPU list such as `0`, `0-3` or `0,2-5,7` (nil if malformed).
    static func cpuListCount(_ list: Substring) -> Int? {
        var count = 0
        for part in list.split(separator: ",") {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
                .map { Int($0.trimmingCharacters(in: .whitespaces)) }
            switch bounds.count {
            case 1:
                guard bounds[0] != nil else { return nil }
                count += 1
            case 2:
                guard let low = bounds[0], let high = bounds[1], low <= high else { return nil }
                count += high - low + 1
            default:
                return nil
            }
        }
        return count > 0 ? count : nil
    }

    /// The CPUs the server can use: the affinity mask and NIO's count (cgroups), whichever is smaller.
    public static var usable: Int {
        max(1, min(affinityCount ?? System.coreCount, System.coreCount))
    }

    /// Sizes NIO's shared event-loop group to `usable` event loops. Must run before anything uses the
    /// group (NIO refuses to change it afterwards); an explicit `NIO_SINGLETON_GROUP_LOOP_COUNT`
    /// in the environment is left to NIO.
    public static func sizeNIOSingletons() {
        guard getenv("NIO_SINGLETON_GROUP_LOOP_COUNT") == nil else { return }
        NIOSingletons.groupLoopCountSuggestion = usable
    }
}
