extension EventBatch {
    /// The events in `range`, sharing this batch's buffers (no bytes are copied).
    public func slice(_ range: Range<Int>) -> EventBatch {
        EventBatch(source: source, lines: lines, events: Array(events[range]))
    }
}
