/// `cat --output table`: one aligned row per event.
public enum EventTable {
    public static let header = row(["TIME", "USER", "VERB", "RESOURCE", "NAMESPACE/NAME", "CODE", "SOURCE IP"])

    public static func line(_ e: AuditEvent) -> String {
        let where_ = e.namespace.isEmpty ? (e.name.isEmpty ? "-" : e.name) : e.namespace + "/" + (e.name.isEmpty ? "*" : e.name)
        let resource = e.resource.isEmpty ? (e.requestURI.split(separator: "?").first.map(String.init) ?? "-") : e.fullResource
        return row([e.stageTimestamp, e.actor, e.verb, resource, where_,
                    e.code.map(String.init) ?? "-", e.sourceIPs.first ?? "-"])
    }

    static let widths = [27, 28, 8, 24, 36, 5, 0]

    static func row(_ cells: [String]) -> String {
        zip(cells, widths).map { cell, width in
            width == 0 || cell.count >= width ? cell + (width == 0 ? "" : " ") : cell + String(repeating: " ", count: width - cell.count)
        }.joined()
    }
}
