import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// The image `scripts/build-image.sh` wrote (`AUDITSEAL_IMAGE`, an OCI archive, as `.ci/run`
/// sets it): its root filesystem, unpacked from the archive's layers, runs `auditseal --help` and
/// a whole serve → POST → SIGTERM → verify cycle in its own root (unshare) as the image's own user.
@Suite(.serialized, .tier(.image)) struct ContainerImageTests {
    static let archive: String? = {
        guard let path = ProcessInfo.processInfo.environment["AUDITSEAL_IMAGE"], FileManager.default.fileExists(atPath: path) else {
            FileHandle.standardError.write(Data("\n*** SKIPPING the container image test: AUDITSEAL_IMAGE is not set to an OCI archive (scripts/build-image.sh writes one; .ci/run does both) ***\n\n".utf8))
            return nil
        }
        guard geteuid() == 0 else {
            FileHandle.standardError.write(Data("\n*** SKIPPING the container image test: chroot needs root ***\n\n".utf8))
            return nil
        }
        return path
    }()

    struct Unpacked {
        var rootfs: String
        var user: String
        var entrypoint: [String]
    }

    static func json(_ path: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(try FileIO.readAll(path: path))) as? [String: Any])
    }

    /// index.json → manifest → config and layers, each layer unpacked in order.
    static func unpack(_ archive: String, into dir: String) throws -> Unpacked {
        let oci = dir + "/oci", rootfs = dir + "/rootfs"
        try FileIO.makeDirectories(oci)
        try FileIO.makeDirectories(rootfs)
        chmod(rootfs, 0o755)  // a runtime's root directory; the layers carry no entry for "/"
        #expect(try TestSupport.run("/bin/tar", ["-xf", archive, "-C", oci]).status == 0)
        func blob(_ digest: Any?) throws -> String {
            let d = try #require(digest as? String)
            #expect(d.hasPrefix("sha256:"))
            return oci + "/blobs/sha256/" + d.dropFirst("sha256:".count)
        }
        let index = try json(oci + "/index.json")
        let manifest = try json(try blob((index["manifests"] as? [[String: Any]])?.first?["digest"]))
        let config = try json(try blob((manifest["config"] as? [String: Any])?["digest"]))
        let layers = manifest["layers"] as? [[String: Any]] ?? []
        #expect(!layers.isEmpty)
        for layer in layers {
            let unpacked = try TestSupport.run("/bin/tar", ["-xf", try blob(layer["digest"]), "-C", rootfs])
            #expect(unpacked.status == 0, "\(unpacked.stderr)")
        }
        let runtime = config["config"] as? [String: Any] ?? [:]
        return Unpacked(rootfs: rootfs, user: runtime["User"] as? String ?? "", entrypoint: runtime["Entrypoint"] as? [String] ?? [])
    }

    /// Runs the image's entrypoint with arguments as a runtime would: in the image's root, as its
    /// user, with /proc mounted (the Swift runtime reads its arguments from /proc/self/cmdline), in
    /// a private mount namespace so that nothing is left mounted. unshare execs the entrypoint, so
    /// the process started is the receiver itself.
    static func chrooted(_ image: Unpacked, _ arguments: [String]) -> (String, [String]) {
        let ids = image.user.split(separator: ":").map(String.init)
        return ("/usr/bin/unshare", ["--mount", "--propagation", "private", "--mount-proc=/proc", "--root=" + image.rootfs,
                                     "--setuid", ids[0], "--setgid", ids.count > 1 ? ids[1] : ids[0]] + image.entrypoint + arguments)
    }

    @Test(.enabled(if: archive != nil))
    func imageRunsTheReceiverAsItsOwnUser() throws {
        let dir = TestSupport.temporaryDirectory("image")
        let archive = try #require(Self.archive)
        let image = try Self.unpack(archive, into: dir)
        // Another OCI implementation reads it too, where one is installed.
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/skopeo") {
            let inspected = try TestSupport.run("/usr/bin/skopeo", ["inspect", "oci-archive:" + archive])
            #expect(inspected.status == 0, "\(inspected.stderr)")
            #expect(inspected.stdout.contains(#""Architecture": "amd64""#) || inspected.stdout.contains(#""Architecture": "arm64""#))
        }
        #expect(image.user == "65532:65532")
        #expect(image.entrypoint == ["/usr/bin/auditseal"])

        // Only what the image needs: the binary, its shared libraries, CA certificates, passwd/group.
        let sizeText = try TestSupport.run("/usr/bin/du", ["-sb", image.rootfs]).stdout
        let size = Int(sizeText.split(separator: "\t").first ?? "") ?? .max
        // At most 60 MB uncompressed (docs/OPERATIONS.md, "The container image and the receiver's limits"): a module that
        // imports the full Foundation again would bring ICU's 34 MB of data back.
        #expect(size <= 60_000_000, "rootfs is \(size) bytes")
        #expect(FileManager.default.fileExists(atPath: image.rootfs + "/etc/ssl/certs/ca-certificates.crt"))
        #expect(!FileManager.default.fileExists(atPath: image.rootfs + "/bin/sh"))

        let (chroot, help) = Self.chrooted(image, ["--help"])
        let helped = try TestSupport.run(chroot, help)
        #expect(helped.status == 0, "\(helped.stderr)")
        #expect(helped.stdout.contains("serve") && helped.stdout.contains("certs"))

        // serve → POST → SIGTERM → verify, all inside the image's filesystem.
        let (_, serveArgs) = Self.chrooted(image, ["serve", "--listen", "127.0.0.1:0", "--data-dir", "/tmp/data", "--verify-interval-seconds", "0"])
        let serve = Process()
        serve.executableURL = URL(fileURLWithPath: chroot)
        serve.arguments = serveArgs
        let out = Pipe()
        serve.standardOutput = out
        serve.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try serve.run()
        var announced = ""
        while !announced.contains("\n"), case let chunk = out.fileHandleForReading.availableData, !chunk.isEmpty {
            announced += String(decoding: chunk, as: UTF8.self)
        }
        let url = try #require(announced.range(of: "listening ").map { String(announced[$0.upperBound...].prefix { !$0.isWhitespace }) })
        let body = dir + "/body.json"
        try FileIO.writeAtomically(path: body, bytes: TestSupport.eventList(count: 400, prefix: "image"))
        let posted = try TestSupport.run("/usr/bin/curl", ["-s", "-X", "POST", url + "/v1/audit", "-H", "Content-Type: application/json", "--data-binary", "@" + body])
        #expect(posted.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == #"{"stored":400,"duplicates":0}"#, "\(posted.stdout)")
        serve.terminate()
        serve.waitUntilExit()
        #expect(serve.terminationStatus == 0)

        let (_, verifyArgs) = Self.chrooted(image, ["verify", "/tmp/data", "--public-key", "/tmp/data/signing.key.pub"])
        let verified = try TestSupport.run(chroot, verifyArgs)
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
        #expect(verified.stdout.contains("tree size 400"), "\(verified.stdout)")
        // Everything it wrote belongs to the image's user.
        let owner = try FileManager.default.attributesOfItem(atPath: image.rootfs + "/tmp/data/signing.key")[.ownerAccountID] as? Int
        #expect(owner == 65532)
    }
}

/// The image has one build command, named alike by the README, the Containerfile and the overlays.
@Suite struct ContainerImageBuildTests {
    @Test func oneBuildCommandNamedEverywhere() throws {
        let root = TestSupport.packageRoot
        func text(_ path: String) throws -> String { String(decoding: try FileIO.readAll(path: root + "/" + path), as: UTF8.self) }
        let script = try text("scripts/build-image.sh")
        #expect(script.contains(#"-f "$PWD/deploy/Containerfile""#))
        #expect(script.contains("tag=${2:-localhost/auditseal:dev}"))
        #expect(script.contains("swift build -c release --static-swift-stdlib --product auditseal"))
        #expect(try text("deploy/Containerfile").contains("scripts/build-image.sh [OUT.tar] [TAG]"))
        #expect(try text("README.md").contains("scripts/build-image.sh .build/image/auditseal.oci.tar"))
        #expect(try text(".ci/run").contains("scripts/build-image.sh .build/image/auditseal.oci.tar"))
        // The overlays deploy the tag the script builds by default.
        let base = try text("deploy/base/kustomization.yaml")
        #expect(base.contains("newName: localhost/auditseal") && base.contains("newTag: dev"))
    }
}
