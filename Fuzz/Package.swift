// swift-tools-version:5.3
import PackageDescription

// Tools version 5.3 and `.target` with a main.swift: an executable without SwiftPM's testable-executable
// renaming of `main`, which -parse-as-library and libFuzzer's own `main` do not survive.
/// libFuzzer targets for Tandem's parsers of untrusted input. Built and run by `Scripts/fuzz`
/// (swiftc `-sanitize=fuzzer,address -parse-as-library`, Linux). Seeds in Corpus/<name>; crashers
/// found are kept in Crashers/<name> and replayed by `FuzzRegressionTests` in the main package.
let package = Package(
    name: "tandem-fuzz",
    dependencies: [.package(name: "tandem", path: "..")],
    targets: [
        .target(name: "FuzzSOAPDecoder", dependencies: [.product(name: "CWMP", package: "tandem")]),
        .target(name: "FuzzUSPDecoder", dependencies: [.product(name: "USP", package: "tandem")]),
        .target(name: "FuzzPathParser", dependencies: [.product(name: "TandemCore", package: "tandem")]),
    ]
)
