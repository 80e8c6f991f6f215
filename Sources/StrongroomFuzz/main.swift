import CStrongroomFuzzDriver
import Foundation
import StrongroomFuzzTargets

// strongroom-fuzz TARGET [libFuzzer options] [corpus folders]
//
// Built by scripts/fuzz with STRONGROOM_FUZZ=1 (libFuzzer and AddressSanitizer), this hands the
// arguments after TARGET to libFuzzer. In an ordinary build it replays the files and folders
// given instead, one input each, and stops at the first broken invariant.

nonisolated(unsafe) var selected: FuzzTarget = .form

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    if let broken = selected.run(data.map { Data(bytes: $0, count: size) } ?? Data()) {
        fatalError("strongroom-fuzz \(selected.rawValue): \(broken)")
    }
    return 0
}

// The target is the first argument. libFuzzer starts copies of this program for -merge, -jobs
// and -fork with its own arguments only, so the target also travels in the environment.
let targetVariable = "STRONGROOM_FUZZ_TARGET"
let arguments = CommandLine.arguments
let fromArgument = arguments.count >= 2 ? FuzzTarget(rawValue: arguments[1]) : nil
guard let target = fromArgument ?? ProcessInfo.processInfo.environment[targetVariable].flatMap(FuzzTarget.init(rawValue:)) else {
    let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
    FileHandle.standardError.write(Data("usage: strongroom-fuzz TARGET [libFuzzer options] [corpus folders]\ntargets: \(names)\n".utf8))
    exit(2)
}
setenv(targetVariable, target.rawValue, 1)
selected = target
target.prepare()
let rest = Array(arguments.dropFirst(fromArgument == nil ? 1 : 2))

// libFuzzer reads its options from argv: the program name, then everything after TARGET.
var forwarded: [UnsafeMutablePointer<CChar>?] = ([arguments[0]] + rest).map { strdup($0) } + [nil]
var count = CInt(forwarded.count - 1)
let code = forwarded.withUnsafeMutableBufferPointer { buffer -> CInt in
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = buffer.baseAddress
    return strongroom_fuzz_run_driver(&count, &argv) { data, size in fuzzOneInput(data, size) }
}
if code != -1 { exit(code) }

// Without libFuzzer: replay.
var replayed = 0
for path in rest {
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
        FileHandle.standardError.write(Data("strongroom-fuzz: no such file or folder: \(path)\n".utf8))
        exit(2)
    }
    let files = isFolder.boolValue
        ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 }
        : [path]
    for file in files {
        guard let data = FileManager.default.contents(atPath: file) else { continue }
        if let broken = target.run(data) {
            FileHandle.standardError.write(Data("strongroom-fuzz \(target.rawValue): \(file): \(broken)\n".utf8))
            exit(1)
        }
        replayed += 1
    }
}
print("strongroom-fuzz \(target.rawValue): \(replayed) inputs replayed without libFuzzer, no invariant broken")
