"""keel_fuzzer: a libFuzzer target for host code, built under ASan and UBSan.

The fuzz binary and everything it depends on are compiled with clang's
coverage instrumentation (-fsanitize=fuzzer-no-link) and the address and
undefined-behaviour sanitizers, through a configuration transition (so the
rest of the build is untouched). Two targets come out of one macro call:

  NAME        `bazel run //pkg:NAME -- [libFuzzer flags] [corpus dirs]`: fuzz
              for as long as asked (e.g. -max_total_time=600), starting from
              the seed corpus when no directory is given;
  NAME_test   `bazel test`: runs every seed input once, then a short fixed-seed
              fuzzing burst (tags: fuzz).
"""

_SAN = ["-fsanitize=address,undefined", "-fno-sanitize=vptr,function", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]

def _fuzz_cfg_impl(settings, attr):
    return {
        "//command_line_option:copt": settings["//command_line_option:copt"] + ["-fsanitize=fuzzer-no-link", "-g"] + _SAN,
        "//command_line_option:linkopt": settings["//command_line_option:linkopt"] + ["-fsanitize=fuzzer"] + _SAN,
    }

_fuzz_cfg = transition(
    implementation = _fuzz_cfg_impl,
    inputs = ["//command_line_option:copt", "//command_line_option:linkopt"],
    outputs = ["//command_line_option:copt", "//command_line_option:linkopt"],
)

def _fuzz_binary_impl(ctx):
    binary = ctx.attr.binary[0][DefaultInfo].files_to_run.executable
    corpus = ctx.files.corpus
    out = ctx.actions.declare_file(ctx.label.name + ".sh")
    corpus_dir = ctx.label.name + ".corpus"
    if ctx.attr.test:
        # Every seed once (a regression over the corpus), then a short burst
        # from a fixed seed in a scratch copy of the corpus.
        body = """set -eu
bin="{bin}"
"$bin" -runs=0 {seeds}
work="${{TEST_TMPDIR:-$(mktemp -d)}}/corpus"
mkdir -p "$work"
for f in {seeds}; do cp "$f" "$work/"; done
exec "$bin" -seed=1 -runs={runs} -max_len={max_len} "$work"
""".format(
            bin = binary.short_path,
            seeds = " ".join([f.short_path for f in corpus]),
            runs = ctx.attr.runs,
            max_len = ctx.attr.max_len,
        )
    else:
        # Long runs: a writable corpus dir seeded from the checked-in inputs,
        # unless the caller names directories.
        body = """set -eu
# (bazel run: the working directory is this script's runfiles tree)
bin="{bin}"
have_dir=0
for a in "$@"; do case "$a" in -*) ;; *) have_dir=1 ;; esac; done
if [ $have_dir = 0 ]; then
  dir="${{BUILD_WORKSPACE_DIRECTORY:-$PWD}}/bazel-fuzz/{corpus_dir}"
  mkdir -p "$dir"
  for f in {seeds}; do cp -n "$f" "$dir/" 2>/dev/null || true; done
  echo "keel_fuzzer: corpus $dir (new inputs are kept there)" >&2
  exec "$bin" -max_len={max_len} "$@" "$dir"
fi
exec "$bin" -max_len={max_len} "$@"
""".format(
            bin = binary.short_path,
            seeds = " ".join([f.short_path for f in corpus]),
            corpus_dir = corpus_dir,
            max_len = ctx.attr.max_len,
        )
    ctx.actions.write(out, "#!/bin/bash\n" + body, is_executable = True)
    runfiles = ctx.runfiles(files = [binary] + corpus).merge(ctx.attr.binary[0][DefaultInfo].default_runfiles)
    return [DefaultInfo(executable = out, runfiles = runfiles)]

_ATTRS = {
    "binary": attr.label(cfg = _fuzz_cfg, executable = True, mandatory = True),
    "corpus": attr.label_list(allow_files = True),
    "runs": attr.int(default = 20000),
    "max_len": attr.int(default = 65536),
    "_allowlist_function_transition": attr.label(
        default = "@bazel_tools//tools/allowlists/function_transition_allowlist",
    ),
}

_fuzz_run = rule(implementation = _fuzz_binary_impl, executable = True, attrs = dict(_ATTRS, test = attr.bool(default = False)))
_fuzz_test = rule(implementation = _fuzz_binary_impl, test = True, attrs = dict(_ATTRS, test = attr.bool(default = True)))

def keel_fuzzer(name, srcs, deps = [], corpus = [], runs = 20000, max_len = 65536, **kwargs):
    native.cc_binary(
        name = name + "_bin",
        srcs = srcs,
        deps = deps,
        tags = ["manual"],
        **kwargs
    )
    _fuzz_run(name = name, binary = ":" + name + "_bin", corpus = corpus, max_len = max_len)
    _fuzz_test(
        name = name + "_test",
        binary = ":" + name + "_bin",
        corpus = corpus,
        runs = runs,
        max_len = max_len,
        size = "small",
        tags = ["fuzz"],
    )
