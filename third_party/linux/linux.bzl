"""@linux_arm64: Debian's arm64 Linux kernel Image, put by
tools/fetch-linux-arm64.sh at ${KEEL_CACHE:-$HOME/.cache/keel}/linux-arm64
(the install step: ./keel run or ./keel test). A real kernel for the
doctor's tests (test/doctor). Local only: this rule never downloads."""

def _linux_arm64_repository_impl(ctx):
    env = ctx.os.environ
    cache = env.get("KEEL_CACHE") or (env.get("HOME", "") + "/.cache/keel")
    d = ctx.path(cache + "/linux-arm64")
    if not d.get_child("Image").exists or not d.get_child("VERSION").exists:
        fail("Debian's arm64 Linux Image is not at %s: run tools/install-deps.sh (./keel test runs it)" % d)
    ctx.symlink(d.get_child("Image"), "Image")
    ctx.symlink(d.get_child("VERSION"), "VERSION")
    ctx.file("BUILD.bazel", 'exports_files(["Image", "VERSION"])\n')

linux_arm64_repository = repository_rule(
    implementation = _linux_arm64_repository_impl,
    environ = ["HOME", "KEEL_CACHE"],
    local = True,
)
