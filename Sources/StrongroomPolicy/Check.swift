import StrongroomCore

/// One named rule of a profile: meets, or fails with the exact OAuth error.
///
/// A check is a small value with a stable name and the spec clause it enforces, evaluated in the
/// order its profile declares (STYLE.md: policies as values, composed in declared order).
public protocol Check<Subject>: Sendable {
    associatedtype Subject
    /// Imperative name, e.g. `RequirePKCES256`.
    var name: String { get }
    /// The clause it enforces, e.g. "FAPI 1.0 Part 1 §5.2.2-7".
    var clause: String { get }
    func evaluate(_ subject: Subject) throws(OAuthError)
}

extension Check {
    public var name: String { String(describing: Self.self) }

    /// The refusal, tagged with this check's name and clause for logs and operators.
    public func fail(_ code: OAuthErrorCode, _ description: String, detail: String? = nil) -> OAuthError {
        OAuthError(code, description, detail: detail, rule: "\(name) (\(clause))")
    }
}

/// An ordered list of checks over one subject.
public struct CheckList<Subject>: Sendable {
    public var checks: [any Check<Subject>]
    public init(_ checks: [any Check<Subject>]) { self.checks = checks }

    public func evaluate(_ subject: Subject) throws(OAuthError) {
        for check in checks {
            try check.evaluate(subject)
        }
    }

    public var names: [String] { checks.map(\.name) }
}
