/// Renders an audit event as the kubectl command it corresponds to, e.g.
/// `kubectl delete deployment web -n prod`, for `cat --output kubectl`. What the event cannot tell
/// (a body at Metadata level) is left out; anything not recognised falls back to the verb and the
/// request URI.
public enum KubectlCommand {
    /// The command, without time, user or outcome.
    public static func render(_ e: AuditEvent) -> String {
        let ns = e.namespace.isEmpty ? "" : " -n \(e.namespace)"
        let kind = singular(e.resource)
        let fieldManager = e.queryValues("fieldManager").first ?? ""
        switch (e.verb, e.resource, e.subresource) {
        case ("create", "pods", "exec"):
            let command = e.queryValues("command")
            let container = e.queryValues("container").first.map { " -c \($0)" } ?? ""
            if let cp = copy(command: command, pod: e.name, namespace: e.namespace) { return cp + container }
            let stdin = e.queryValues("stdin").first == "true", tty = e.queryValues("tty").first == "true"
            let flags = stdin && tty ? " -it" : stdin ? " -i" : tty ? " -t" : ""
            return "kubectl exec\(flags) \(e.name)\(ns)\(container)" + (command.isEmpty ? "" : " -- " + command.map(quote).joined(separator: " "))
        case ("create", "pods", "attach"), ("get", "pods", "attach"):
            return "kubectl attach \(e.name)\(ns)" + (e.queryValues("container").first.map { " -c \($0)" } ?? "")
        case ("create", "pods", "portforward"), ("get", "pods", "portforward"):
            let ports = e.queryValues("ports")
            return "kubectl port-forward pod/\(e.name)\(ns)" + (ports.isEmpty ? "" : " " + ports.joined(separator: " "))
        case ("get", "pods", "log"):
            var flags = ""
            if let c = e.queryValues("container").first { flags += " -c \(c)" }
            if e.queryValues("follow").first == "true" { flags += " -f" }
            if e.queryValues("previous").first == "true" { flags += " -p" }
            if let t = e.queryValues("tailLines").first { flags += " --tail=\(t)" }
            return "kubectl logs \(e.name)\(ns)\(flags)"
        case ("create", "pods", "eviction"):
            return "kubectl drain (evict pod \(e.name)\(ns))"
        case ("create", "selfsubjectaccessreviews", _), ("create", "subjectaccessreviews", _):
            let a = e.reviewAttributes
            guard let verb = a["verb"] else { return "kubectl auth can-i" }
            var resource = a["resource"] ?? ""
            if let sub = a["subresource"], !sub.isEmpty { resource += "/\(sub)" }
            if let group = a["group"], !group.isEmpty { resource += ".\(group)" }
            if let name = a["name"], !name.isEmpty { resource += "/\(name)" }
            let where_ = a["namespace"].map { $0.isEmpty ? "" : " -n \($0)" } ?? ""
            return "kubectl auth can-i \(verb) \(resource)\(where_)"
        case ("create", "selfsubjectrulesreviews", _):
            return "kubectl auth can-i --list\(ns)"
        case (_, _, "scale") where e.verb == "patch" || e.verb == "update":
            return "kubectl scale \(kind) \(e.name)\(ns)" + (e.requestReplicas.map { " --replicas=\($0)" } ?? "")
        case ("get", _, "scale"):
            return "kubectl get \(kind) \(e.name)\(ns) (scale)"
        case ("create", _, ""):
            if fieldManager == "kubectl-client-side-apply" { return "kubectl apply \(kind) \(e.name)\(ns)" }
            return "kubectl create \(kind)\(e.name.isEmpty ? "" : " " + e.name)\(ns)"
        case ("patch", _, _):
            if fieldManager == "kubectl-client-side-apply" { return "kubectl apply \(kind) \(e.name)\(ns)" }
            if fieldManager == "kubectl" || fieldManager.hasPrefix("kubectl-") && fieldManager != "kubectl-edit" && fieldManager != "kubectl-patch" && fieldManager != "kubectl-label" && fieldManager != "kubectl-annotate" {
                // Server-side apply sends an apply patch with fieldManager=kubectl (and force when asked).
                return "kubectl apply --server-side \(kind) \(e.name)\(ns)" + (e.queryValues("force").first == "true" ? " --force-conflicts" : "")
            }
            let what = fieldManager == "kubectl-edit" ? "edit" : fieldManager == "kubectl-label" ? "label" : fieldManager == "kubectl-annotate" ? "annotate" : "patch"
            return "kubectl \(what) \(kind)\(e.subresource.isEmpty ? "" : "/" + e.subresource) \(e.name)\(ns)"
        case ("update", _, _):
            if fieldManager == "kubectl-replace" || e.subresource.isEmpty {
                return "kubectl replace \(kind)\(e.subresource.isEmpty ? "" : "/" + e.subresource) \(e.name)\(ns)"
            }
            return "kubectl replace \(kind)/\(e.subresource) \(e.name)\(ns)"
        case ("delete", _, _):
            return "kubectl delete \(kind) \(e.name)\(ns)"
        case ("deletecollection", _, _):
            return "kubectl delete \(kind) --all\(ns)" + selector(e)
        case ("get", _, _) where !e.resource.isEmpty:
            return "kubectl get \(kind) \(e.name)\(ns)"
        case ("list", _, _) where !e.resource.isEmpty:
            return "kubectl get \(e.resource)\(e.namespace.isEmpty ? " -A" : ns)" + selector(e)
        case ("watch", _, _) where !e.resource.isEmpty:
            return "kubectl get \(e.resource)\(e.namespace.isEmpty ? " -A" : ns)" + selector(e) + " --watch"
        default:
            // Non-resource URLs (/healthz, /metrics, /api) and anything else: the verb and the path.
            if e.resource.isEmpty { return "\(e.verb) \(e.requestURI)" }
            return "kubectl \(e.verb) \(e.fullResource) \(e.name)\(ns)"
        }
    }

    /// One line: time, user, the command, and the outcome.
    public static func line(_ e: AuditEvent) -> String {
        "\(e.stageTimestamp) \(e.actor)  \(render(e))\(impersonation(e))  -> \(e.code.map(String.init) ?? e.stage)"
    }

    /// `--as USER --as-group G...` of an impersonated request, as kubectl takes them.
    static func impersonation(_ e: AuditEvent) -> String {
        guard let user = e.impersonatedUsername, render(e).hasPrefix("kubectl ") else { return "" }
        return " --as \(user)" + e.impersonatedGroups.map { " --as-group \($0)" }.joined()
    }

    static func selector(_ e: AuditEvent) -> String {
        var out = ""
        if let l = e.queryValues("labelSelector").first, !l.isEmpty { out += " -l \(l)" }
        if let f = e.queryValues("fieldSelector").first, !f.isEmpty { out += " --field-selector \(f)" }
        return out
    }

    /// kubectl cp runs `tar cf - PATH` (from the pod) or `tar xmf - -C DIR` (into it) over exec.
    static func copy(command: [String], pod: String, namespace: String) -> String? {
        guard command.first == "tar", command.count >= 3 else { return nil }
        let target = (namespace.isEmpty ? "" : namespace + "/") + pod
        if command[1].hasPrefix("c") { return "kubectl cp \(target):\(command.last!) ." }
        if command[1].hasPrefix("x") {
            let dir = command.firstIndex(of: "-C").flatMap { $0 + 1 < command.count ? command[$0 + 1] : nil } ?? "."
            return "kubectl cp . \(target):\(dir)"
        }
        return nil
    }

    static func quote(_ arg: String) -> String {
        arg.isEmpty || arg.contains(where: { " '\"$`\\".contains($0) }) ? "'" + arg.replacing("'", with: "'\\''") + "'" : arg
    }

    /// The singular kubectl names: "deployments" → "deployment", "ingresses" → "ingress",
    /// "networkpolicies" → "networkpolicy"; "endpoints" stays.
    public static func singular(_ resource: String) -> String {
        if resource == "endpoints" || resource.isEmpty { return resource }
        if resource.hasSuffix("ies") { return String(resource.dropLast(3)) + "y" }
        if resource.hasSuffix("sses") || resource.hasSuffix("xes") { return String(resource.dropLast(2)) }
        if resource.hasSuffix("s") { return String(resource.dropLast()) }
        return resource
    }
}
