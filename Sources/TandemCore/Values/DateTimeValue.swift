#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// An `xsd:dateTime` as TR-106 section 3.2.1 uses it: `YYYY-MM-DDThh:mm:ss`, optional fraction,
/// optional zone (`Z` or `±hh:mm`). Kept by component so the round trip is exact, including the
/// number of fraction digits and the zone spelling.
///
/// TR-106 gives two special meanings: `0001-01-01T00:00:00Z` is the Unknown Time, and a time
/// before year 1000 without a zone is a relative time (seconds since boot).
public struct DateTimeValue: Hashable, Sendable, CustomStringConvertible {
    /// Time zone designator.
    public enum Zone: Hashable, Sendable {
        /// No designator: local or relative time.
        case none
        /// `Z`.
        case utc
        /// `+hh:mm` / `-hh:mm`, in minutes east of UTC.
        case offset(minutes: Int)
    }

    public let year: Int
    public let month: Int
    public let day: Int
    public let hour: Int
    public let minute: Int
    public let second: Int
    /// Fraction-of-second digits as written (`"123"` for `.123`), empty when absent.
    public let fraction: String
    public let zone: Zone

    /// `0001-01-01T00:00:00Z` (TR-106 3.2.1).
    public static let unknown = DateTimeValue(
        uncheckedYear: 1, month: 1, day: 1, hour: 0, minute: 0, second: 0, fraction: "", zone: .utc)

    init(uncheckedYear year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, fraction: String, zone: Zone) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
        self.fraction = fraction
        self.zone = zone
    }

    /// A UTC timestamp with millisecond precision, the form Tandem writes.
    public init(_ date: Date) {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        let seconds = Int64((Double(milliseconds) / 1000).rounded(.down))
        let (y, m, d) = Self.civil(fromDays: Int(seconds.floorDiv(86_400)))
        let secondOfDay = Int(seconds - seconds.floorDiv(86_400) * 86_400)
        let millis = Int(milliseconds - seconds * 1000)
        self.init(
            uncheckedYear: y, month: m, day: d, hour: secondOfDay / 3600, minute: secondOfDay % 3600 / 60,
            second: secondOfDay % 60, fraction: String(repeating: "0", count: 3 - String(millis).count) + String(millis),
            zone: .utc)
    }

    public init(parsing text: String) throws(ValueError) {
        let bytes = Array(text.utf8)
        var index = 0
        func fail(_ why: String) -> ValueError { ValueError("\"\(text)\" is not a valid dateTime: \(why)") }
        func number(_ count: Int, _ what: String) throws(ValueError) -> Int {
            guard index + count <= bytes.count else { throw fail("\(what) is cut short") }
            var value = 0
            for byte in bytes[index..<index + count] {
                guard byte >= 48 && byte <= 57 else { throw fail("\(what) must be \(count) digits") }
                value = value * 10 + Int(byte - 48)
            }
            index += count
            return value
        }
        func expect(_ character: Character, _ what: String) throws(ValueError) {
            guard index < bytes.count, bytes[index] == character.asciiValue else { throw fail("expected '\(character)' \(what)") }
            index += 1
        }
        let year = try number(4, "year")
        try expect("-", "after the year")
        let month = try number(2, "month")
        try expect("-", "after the month")
        let day = try number(2, "day")
        guard index < bytes.count, bytes[index] == UInt8(ascii: "T") || bytes[index] == UInt8(ascii: "t") else {
            throw fail("expected 'T' between date and time")
        }
        index += 1
        let hour = try number(2, "hour")
        try expect(":", "after the hour")
        let minute = try number(2, "minute")
        try expect(":", "after the minutes")
        let second = try number(2, "second")
        var fraction = ""
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            let start = index
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 { index += 1 }
            guard index > start else { throw fail("fraction has no digits") }
            fraction = String(decoding: bytes[start..<index], as: UTF8.self)
        }
        var zone = Zone.none
        if index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "Z"), UInt8(ascii: "z"):
                zone = .utc
                index += 1
            case UInt8(ascii: "+"), UInt8(ascii: "-"):
                let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
                index += 1
                let zoneHours = try number(2, "zone hours")
                try expect(":", "in the zone offset")
                let zoneMinutes = try number(2, "zone minutes")
                guard zoneHours <= 14, zoneMinutes < 60 else { throw fail("zone offset out of range") }
                zone = .offset(minutes: sign * (zoneHours * 60 + zoneMinutes))
            default:
                throw fail("unexpected text after the time")
            }
        }
        guard index == bytes.count else { throw fail("unexpected text after the zone") }
        guard (1...12).contains(month) else { throw fail("month \(month) is out of range") }
        guard (1...Self.daysIn(month: month, year: year)).contains(day) else { throw fail("day \(day) is out of range") }
        guard hour < 24, minute < 60, second <= 60 else { throw fail("time of day is out of range") }
        self.init(uncheckedYear: year, month: month, day: day, hour: hour, minute: minute, second: second, fraction: fraction, zone: zone)
    }

    public var lexical: String {
        func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
        }
        var out = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2))"
        if !fraction.isEmpty { out += "." + fraction }
        switch zone {
        case .none: break
        case .utc: out += "Z"
        case .offset(let minutes):
            out += minutes < 0 ? "-" : "+"
            out += "\(pad(abs(minutes) / 60, 2)):\(pad(abs(minutes) % 60, 2))"
        }
        return out
    }

    public var description: String { lexical }

    /// TR-106 Unknown Time (`0001-01-01T00:00:00Z`).
    public var isUnknown: Bool { year == 1 && month == 1 && day == 1 && hour == 0 && minute == 0 && second == 0 && zone == .utc }

    /// The instant, reading a missing zone as UTC; nil for the Unknown Time.
    public var date: Date? {
        guard !isUnknown else { return nil }
        let days = Self.days(fromCivilYear: year, month: month, day: day)
        var seconds = Double(days) * 86_400 + Double(hour * 3600 + minute * 60 + second)
        if case .offset(let minutes) = zone { seconds -= Double(minutes * 60) }
        if !fraction.isEmpty, let fractional = Double("0." + fraction) { seconds += fractional }
        return Date(timeIntervalSince1970: seconds)
    }

    // MARK: Calendar arithmetic (proleptic Gregorian; H. Hinnant's days-from-civil)

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    static func days(fromCivilYear year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civil(fromDays days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

extension Int64 {
    fileprivate func floorDiv(_ divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
