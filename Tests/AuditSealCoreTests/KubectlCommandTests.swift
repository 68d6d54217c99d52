import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// Audit events rendered as the kubectl commands they correspond to: every verb `cat --output
/// kubectl` names, on events shaped like the API server's (the request URIs kubectl sends), and on
/// the real events of the corpus.
@Suite struct KubectlCommandTests {
    static func event(_ verb: String, _ uri: String, resource: String = "", sub: String = "", ns: String = "", name: String = "",
                      group: String = "", agent: String = "kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46", code: Int = 200,
                      request: String? = nil) -> AuditEvent {
        var ref = [String: String]()
        if !resource.isEmpty { ref["resource"] = resource }
        if !sub.isEmpty { ref["subresource"] = sub }
        if !ns.isEmpty { ref["namespace"] = ns }
        if !name.isEmpty { ref["name"] = name }
        if !group.isEmpty { ref["apiGroup"] = group }
        var object: [String: Any] = ["kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": request == nil ? "Metadata" : "Request",
                                     "auditID": "x", "stage": "ResponseComplete", "verb": verb, "requestURI": uri,
                                     "user": ["username": "alice@example.com"], "userAgent": agent, "sourceIPs": ["10.0.0.1"],
                                     "responseStatus": ["code": code], "stageTimestamp": "2026-11-24T10:02:11.000000Z"]
        if !ref.isEmpty { object["objectRef"] = ref }
        if let request { object["requestObject"] = try! JSONSerialization.jsonObject(with: Data(request.utf8)) }
        return AuditEvent(line: Array(try! JSONSerialization.data(withJSONObject: object)))!
    }

    @Test func everyVerbKubectlSends() {
        let cases: [(AuditEvent, String)] = [
            (Self.event("get", "/apis/apps/v1/namespaces/prod/deployments/web", resource: "deployments", ns: "prod", name: "web", group: "apps"), "kubectl get deployment web -n prod"),
            (Self.event("list", "/api/v1/namespaces/prod/pods?labelSelector=app%3Dweb&limit=500", resource: "pods", ns: "prod"), "kubectl get pods -n prod -l app=web"),
            (Self.event("list", "/api/v1/pods?limit=500", resource: "pods"), "kubectl get pods -A"),
            (Self.event("watch", "/api/v1/namespaces/prod/pods?watch=true", resource: "pods", ns: "prod"), "kubectl get pods -n prod --watch"),
            (Self.event("create", "/api/v1/namespaces/prod/configmaps?fieldManager=kubectl-create", resource: "configmaps", ns: "prod", name: "cfg"), "kubectl create configmap cfg -n prod"),
            (Self.event("create", "/apis/apps/v1/namespaces/prod/deployments?fieldManager=kubectl-client-side-apply&fieldValidation=Strict", resource: "deployments", ns: "prod", name: "web"), "kubectl apply deployment web -n prod"),
            (Self.event("patch", "/apis/apps/v1/namespaces/prod/deployments/web?fieldManager=kubectl-client-side-apply&fieldValidation=Strict", resource: "deployments", ns: "prod", name: "web"), "kubectl apply deployment web -n prod"),
            (Self.event("patch", "/apis/apps/v1/namespaces/prod/deployments/web?fieldManager=kubectl&fieldValidation=Strict&force=false", resource: "deployments", ns: "prod", name: "web"), "kubectl apply --server-side deployment web -n prod"),
            (Self.event("patch", "/apis/apps/v1/namespaces/prod/deployments/web?fieldManager=kubectl&force=true", resource: "deployments", ns: "prod", name: "web"), "kubectl apply --server-side deployment web -n prod --force-conflicts"),
            (Self.event("patch", "/apis/apps/v1/namespaces/prod/deployments/web?fieldManager=kubectl-patch", resource: "deployments", ns: "prod", name: "web"), "kubectl patch deployment web -n prod"),
            (Self.event("patch", "/api/v1/namespaces/prod/pods/p?fieldManager=kubectl-label", resource: "pods", ns: "prod", name: "p"), "kubectl label pod p -n prod"),
            (Self.event("update", "/apis/apps/v1/namespaces/prod/deployments/web?fieldManager=kubectl-replace", resource: "deployments", ns: "prod", name: "web"), "kubectl replace deployment web -n prod"),
            (Self.event("delete", "/apis/apps/v1/namespaces/prod/deployments/web", resource: "deployments", ns: "prod", name: "web"), "kubectl delete deployment web -n prod"),
            (Self.event("deletecollection", "/api/v1/namespaces/prod/pods?labelSelector=app%3Dold", resource: "pods", ns: "prod"), "kubectl delete pod --all -n prod -l app=old"),
            (Self.event("patch", "/apis/apps/v1/namespaces/prod/deployments/web/scale", resource: "deployments", sub: "scale", ns: "prod", name: "web", request: #"{"spec":{"replicas":5}}"#), "kubectl scale deployment web -n prod --replicas=5"),
            (Self.event("update", "/apis/apps/v1/namespaces/prod/deployments/web/scale", resource: "deployments", sub: "scale", ns: "prod", name: "web"), "kubectl scale deployment web -n prod"),
            (Self.event("create", "/api/v1/namespaces/prod/pods/web-1/exec?command=sh&command=-c&command=echo+hi+%3E+%2Ftmp%2Fx&container=app&stdin=true&stdout=true&tty=true", resource: "pods", sub: "exec", ns: "prod", name: "web-1"), "kubectl exec -it web-1 -n prod -c app -- sh -c 'echo hi > /tmp/x'"),
            (Self.event("get", "/api/v1/namespaces/prod/pods/web-1/log?container=app&follow=true&tailLines=100", resource: "pods", sub: "log", ns: "prod", name: "web-1"), "kubectl logs web-1 -n prod -c app -f --tail=100"),
            (Self.event("create", "/api/v1/namespaces/prod/pods/web-1/portforward?ports=8080", resource: "pods", sub: "portforward", ns: "prod", name: "web-1"), "kubectl port-forward pod/web-1 -n prod 8080"),
            (Self.event("create", "/api/v1/namespaces/prod/pods/web-1/exec?command=tar&command=cf&command=-&command=%2Fetc%2Fpasswd&container=app&stdout=true", resource: "pods", sub: "exec", ns: "prod", name: "web-1"), "kubectl cp prod/web-1:/etc/passwd . -c app"),
            (Self.event("create", "/api/v1/namespaces/prod/pods/web-1/exec?command=tar&command=xmf&command=-&command=-C&command=%2Ftmp&stdin=true", resource: "pods", sub: "exec", ns: "prod", name: "web-1"), "kubectl cp . prod/web-1:/tmp"),
            (Self.event("create", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", resource: "selfsubjectaccessreviews", group: "authorization.k8s.io",
                        request: #"{"spec":{"resourceAttributes":{"verb":"delete","resource":"deployments","group":"apps","namespace":"prod"}}}"#), "kubectl auth can-i delete deployments.apps -n prod"),
            (Self.event("create", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", resource: "selfsubjectaccessreviews", group: "authorization.k8s.io"), "kubectl auth can-i"),
            (Self.event("get", "/healthz", agent: "kube-probe/1.31"), "get /healthz"),
            (Self.event("create", "/api/v1/namespaces/prod/pods/web-1/attach?container=app&stdin=true", resource: "pods", sub: "attach", ns: "prod", name: "web-1"), "kubectl attach web-1 -n prod -c app"),
            (Self.event("get", "/apis/networking.k8s.io/v1/namespaces/prod/ingresses/www", resource: "ingresses", ns: "prod", name: "www", group: "networking.k8s.io"), "kubectl get ingress www -n prod"),
            (Self.event("get", "/apis/networking.k8s.io/v1/namespaces/prod/networkpolicies/deny", resource: "networkpolicies", ns: "prod", name: "deny"), "kubectl get networkpolicy deny -n prod"),
            (Self.event("escalate", "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin", resource: "clusterroles", sub: "status", name: "admin"), "kubectl escalate clusterroles/status admin"),
        ]
        for (e, expected) in cases { #expect(KubectlCommand.render(e) == expected, "\(e.verb) \(e.requestURI)") }
        let line = KubectlCommand.line(cases[12].0)
        #expect(line == "2026-11-24T10:02:11.000000Z alice@example.com  kubectl delete deployment web -n prod  -> 200")
    }

    /// `kubectl --as bob --as-group ops delete ...` by alice: shown as "alice as bob" with the flags,
    /// and found by --user/--group for either side.
    @Test func anImpersonatedRequestShowsAndMatchesBothUsers() throws {
        let object: [String: Any] = ["kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": "imp", "stage": "ResponseComplete",
                                     "verb": "delete", "requestURI": "/apis/apps/v1/namespaces/prod/deployments/web",
                                     "user": ["username": "alice@example.com", "groups": ["admins"]],
                                     "impersonatedUser": ["username": "bob", "groups": ["ops"]],
                                     "objectRef": ["resource": "deployments", "namespace": "prod", "name": "web", "apiGroup": "apps"],
                                     "userAgent": "kubectl/v1.31.2", "responseStatus": ["code": 200], "stageTimestamp": "2026-11-24T10:02:11.000000Z"]
        let e = try #require(AuditEvent(line: Array(try JSONSerialization.data(withJSONObject: object))))
        #expect(KubectlCommand.line(e) == "2026-11-24T10:02:11.000000Z alice@example.com as bob  kubectl delete deployment web -n prod --as bob --as-group ops  -> 200")
        #expect(EventTable.line(e).contains("alice@example.com as bob"))
        for (users, groups, matches) in [(["bob"], [String](), true), (["alice@example.com"], [], true), (["carol"], [], false),
                                         ([], ["ops"], true), ([], ["admins"], true), ([], ["dev"], false)] {
            var filter = EventFilter()
            filter.users = users
            filter.groups = groups
            #expect(filter.matches(e) == matches, "\(users) \(groups)")
        }
        // Not impersonated: the user alone, no flags.
        let plain = Self.event("delete", "/apis/apps/v1/namespaces/prod/deployments/web", resource: "deployments", ns: "prod", name: "web", group: "apps")
        #expect(plain.actor == "alice@example.com" && !KubectlCommand.line(plain).contains("--as"))
    }

    @Test func realEventsOfTheCorpus() throws {
        let batch = try TestSupport.corpusEvents()
        var rendered = [String: String]()
        for i in 0..<batch.count {
            guard let e = AuditEvent(line: Array(batch.line(i))) else { continue }
            rendered[e.auditID + "/" + e.stage] = KubectlCommand.render(e)
        }
        #expect(rendered.count >= 80)
        // Every rendering names a command or the request (no empty ones).
        #expect(rendered.values.allSatisfy { $0.hasPrefix("kubectl ") || $0.contains("/") })
        #expect(rendered.values.contains { $0.hasPrefix("kubectl exec ") })
        #expect(rendered.values.contains { $0.hasPrefix("kubectl attach ") })
        #expect(rendered.values.contains { $0.hasPrefix("kubectl delete ") })
        #expect(rendered.values.contains { $0.hasPrefix("kubectl create clusterrolebinding ") })
        #expect(rendered.values.contains { $0.hasPrefix("kubectl get pods") })
    }
}
