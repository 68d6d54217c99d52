extension EventBatch {
    /// The events in `range`, sharing this batch's buffers (no bytes are copied).
    public func slice(_ range: Range<Int>) -> EventBatch {
        var slice = EventBatch(source: source, lines: lines, events: Array(events[range]))
        slice.backfilled = backfilled
        return slice
    }
}

extension EventBatch {
    /// The events at the given positions (in that order), sharing this batch's bytes.
    public func selecting(_ positions: [Int]) -> EventBatch {
        var selection = EventBatch(source: source, lines: lines, events: positions.map { events[$0] })
        selection.backfilled = backfilled
        return selection
    }
}
