// swift-tools-version:6.2
import PackageDescription

/// libFuzzer targets for Tandem's parsers of untrusted input. Built and run by `Scripts/fuzz`
/// (swiftc `-sanitize=fuzzer,address -parse-as-library`, Linux). Seeds in Corpus/<name>; crashers
/// found are kept in Crashers/<name> and replayed by `FuzzRegressionTests` in the main package.
let package = Package(
    name: "tandem-fuzz",
    dependencies: [.package(name: "tandem", path: "..")],
    targets: [
        .executableTarget(name: "FuzzSOAPDecoder", dependencies: [.product(name: "CWMP", package: "tandem")]),
        .executableTarget(name: "FuzzUSPDecoder", dependencies: [.product(name: "USP", package: "tandem")]),
        .executableTarget(name: "FuzzPathParser", dependencies: [.product(name: "TandemCore", package: "tandem")]),
    ]
)
