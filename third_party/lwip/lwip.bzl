"""@lwip: Debian's lwIP source package, unpacked by tools/fetch-lwip.sh into
${KEEL_CACHE:-$HOME/.cache/keel}/lwip/src (the install step: ./keel run or
./keel test). Local only: this rule never downloads."""

def _lwip_repository_impl(ctx):
    env = ctx.os.environ
    cache = env.get("KEEL_CACHE") or (env.get("HOME", "") + "/.cache/keel")
    src = ctx.path(cache + "/lwip/src")
    if not src.get_child("src").get_child("include").get_child("lwip").get_child("init.h").exists:
        fail("lwIP's source is not at %s: run tools/install-deps.sh (./keel test runs it)" % src)
    ctx.symlink(src.get_child("src"), "src")
    ctx.symlink(src.get_child("COPYING"), "COPYING")
    ctx.symlink(ctx.attr.build_file, "BUILD.bazel")

lwip_repository = repository_rule(
    implementation = _lwip_repository_impl,
    attrs = {"build_file": attr.label(allow_single_file = True)},
    environ = ["HOME", "KEEL_CACHE"],
    local = True,
)
