import Foundation

/// One figure of one scenario, as `--json` writes it: `floor` and `ratio` are null where the
/// scenario has no floor measured in the same run.
struct Measurement: Encodable, Sendable {
    var scenario: String
    var metric: String
    var value: Double
    var unit: String
    var floor: Double?
    var ratio: Double?

    init(_ scenario: String, _ metric: String, _ value: Double, _ unit: String, floor: Double? = nil) {
        self.scenario = scenario
        self.metric = metric
        self.value = value
        self.unit = unit
        self.floor = floor
        self.ratio = floor.flatMap { $0 > 0 ? value / $0 : nil }
    }

    private enum CodingKeys: String, CodingKey { case scenario, metric, value, unit, floor, ratio }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(scenario, forKey: .scenario)
        try c.encode(metric, forKey: .metric)
        try c.encode(value, forKey: .value)
        try c.encode(unit, forKey: .unit)
        // Explicit nulls: every object has the same keys.
        try c.encode(floor, forKey: .floor)
        try c.encode(ratio, forKey: .ratio)
    }
}

/// Exact percentiles over every recorded sample (a sort; the sample counts here fit in memory).
struct Samples: Sendable {
    private(set) var values: [Double] = []

    mutating func add(_ value: Double) { values.append(value) }
    mutating func add(contentsOf other: Samples) { values += other.values }

    var count: Int { values.count }

    /// Nearest-rank percentile, `p` in 0...100; 0 when empty.
    func percentile(_ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }
}

/// Prints measurements as table rows, as each scenario finishes.
enum Table {
    static func header() -> String {
        row(["SCENARIO", "METRIC", "VALUE", "UNIT", "FLOOR", "RATIO"])
    }

    static func rows(_ measurements: [Measurement]) -> String {
        measurements.map { m in
            row([m.scenario, m.metric, format(m.value), m.unit, m.floor.map(format) ?? "-", m.ratio.map { String(format: "%.0f%%", $0 * 100) } ?? "-"])
        }.joined()
    }

    static func format(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e12 { return String(Int64(value)) }
        if abs(value) >= 100 { return String(format: "%.0f", value) }
        if abs(value) >= 1 { return String(format: "%.2f", value) }
        return String(format: "%.3f", value)
    }

    private static let widths = [15, 34, 12, 12, 12, 6]

    private static func row(_ cells: [String]) -> String {
        zip(cells, widths).map { cell, width in cell.padding(toLength: max(width, cell.count), withPad: " ", startingAt: 0) }
            .joined(separator: " ").trimmingCharacters(in: .whitespaces) + "\n"
    }
}

/// Writes to standard output at once (table rows as each scenario finishes).
func output(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}

/// Writes to standard error at once (progress lines while scenarios run).
func progress(_ text: String) {
    FileHandle.standardError.write(Data("bench: \(text)\n".utf8))
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
