"""Build rules that put aarch64 target code and host tools in one build graph.

`_to_aarch64` is a configuration transition to //platform:aarch64_bare; any rule
attribute that carries it builds its dependency with the cross toolchain, while
the rest of `bazel build //...` stays on the host. Target-only cc_* rules say
`target_compatible_with = ["@platforms//os:none"]`, so the host configuration
skips them instead of failing.
"""

def _to_aarch64_impl(settings, attr):
    # Host-only compile and link options (the sanitizer configs, the
    # fuzzers' instrumentation) never reach freestanding target code.
    return {
        "//command_line_option:platforms": "//platform:aarch64_bare",
        "//command_line_option:copt": [],
        "//command_line_option:linkopt": [],
    }

_to_aarch64 = transition(
    implementation = _to_aarch64_impl,
    inputs = [],
    outputs = [
        "//command_line_option:platforms",
        "//command_line_option:copt",
        "//command_line_option:linkopt",
    ],
)

_ALLOWLIST = {
    "_allowlist_function_transition": attr.label(
        default = "@bazel_tools//tools/allowlists/function_transition_allowlist",
    ),
}

KeelImageInfo = provider(
    doc = "A packed boot image and the ELF files it was made from.",
    fields = {
        "image": "File: the raw Linux-arm64-format image",
        "elfs": "dict: module name -> ELF File with symbols",
    },
)

def _single(files, what):
    fs = files.to_list()
    if len(fs) != 1:
        fail("%s must produce exactly one file, got %d" % (what, len(fs)))
    return fs[0]

def _keel_image_impl(ctx):
    boot = _single(ctx.attr.boot[0][DefaultInfo].files, "boot")
    kernel = _single(ctx.attr.kernel[0][DefaultInfo].files, "kernel")
    modules = []  # (name, ELF file), in attribute order
    for target, name in ctx.attr.modules.items():
        modules.append((name, _single(target[DefaultInfo].files, name)))
    out = ctx.actions.declare_file(ctx.label.name + ".bin")
    args = ctx.actions.args()
    args.add("--boot", boot)
    args.add("--kernel", kernel)
    args.add("--out", out)
    if ctx.attr.inject:
        args.add("--inject", ctx.attr.inject)
    if ctx.attr.selftest:
        args.add("--selftest", ctx.attr.selftest)
    if ctx.attr.invariants:
        args.add("--invariants")
    if modules:
        args.add("--module", ",".join(["%s=%s" % (n, f.path) for n, f in modules]))
    data = []
    if ctx.file.system:
        # The system description, checked against the modules and packed as "system".
        desc = ctx.actions.declare_file(ctx.label.name + ".system.bin")
        sargs = ctx.actions.args()
        sargs.add("--in", ctx.file.system)
        sargs.add("--out", desc)
        sargs.add("--modules", ",".join([n for n, _ in modules]))
        ctx.actions.run(
            executable = ctx.executable._sysdesc,
            arguments = [sargs],
            inputs = [ctx.file.system],
            outputs = [desc],
            mnemonic = "KeelSystem",
            progress_message = "Checking system description %s" % ctx.file.system.short_path,
        )
        args.add("--data_module", "system=" + desc.path)
        data.append(desc)
    elif ctx.file.system_blob:
        # Packed unchecked: for tests of init's own checks.
        args.add("--data_module", "system=" + ctx.file.system_blob.path)
        data.append(ctx.file.system_blob)
    ctx.actions.run(
        executable = ctx.executable._mkimage,
        arguments = [args],
        inputs = [boot, kernel] + [f for _, f in modules] + data,
        outputs = [out],
        mnemonic = "KeelImage",
        progress_message = "Packing boot image %s" % out.short_path,
    )

    # Stable names next to the image, so people (and gdb) find the ELFs.
    boot_elf = ctx.actions.declare_file(ctx.label.name + ".boot.elf")
    kernel_elf = ctx.actions.declare_file(ctx.label.name + ".kernel.elf")
    ctx.actions.symlink(output = boot_elf, target_file = boot)
    ctx.actions.symlink(output = kernel_elf, target_file = kernel)
    elfs = {"boot": boot_elf, "kernel": kernel_elf}
    for name, f in modules:
        link = ctx.actions.declare_file("%s.%s.elf" % (ctx.label.name, name))
        ctx.actions.symlink(output = link, target_file = f)
        elfs[name] = link
    return [
        DefaultInfo(
            files = depset([out] + elfs.values()),
            runfiles = ctx.runfiles(files = [out] + elfs.values()),
        ),
        KeelImageInfo(image = out, elfs = elfs),
    ]

keel_image = rule(
    implementation = _keel_image_impl,
    doc = "Packs the physical stage and the kernel into one bootable image.",
    attrs = dict(_ALLOWLIST, **{
        "boot": attr.label(cfg = _to_aarch64, mandatory = True),
        "kernel": attr.label(cfg = _to_aarch64, mandatory = True),
        "inject": attr.string(doc = "fault to inject at boot (see kernel/boot/manifest.h)"),
        "modules": attr.label_keyed_string_dict(
            cfg = _to_aarch64,
            doc = "user programs packed as boot modules: target -> name (the first is init)",
        ),
        "selftest": attr.string(doc = "self-test the kernel runs after its banner"),
        "invariants": attr.bool(doc = "the kernel checks its invariants after every syscall (kernel/core/invariants.h)"),
        "system": attr.label(allow_single_file = [".system"], doc = "system description (packed as module 'system')"),
        "system_blob": attr.label(allow_single_file = True, doc = "test images: a module 'system' packed as is"),
        "_sysdesc": attr.label(default = "//tools/sysdesc", executable = True, cfg = "exec"),
        "_mkimage": attr.label(default = "//tools/mkimage", executable = True, cfg = "exec"),
    }),
)

def _runner_script(ctx, image_info, extra_args):
    """Writes a script that execs the QEMU runner on the image with fixed args."""
    runner = ctx.executable._runner
    lines = [
        "#!/bin/bash",
        "# Generated by //tools/build:defs.bzl. Runs keel's QEMU runner.",
        "set -euo pipefail",
        'cd "${RUNFILES_DIR:-$0.runfiles}/keel" 2>/dev/null || true',
        "exec %s \\" % runner.short_path,
        "  --image=%s \\" % image_info.image.short_path,
    ]
    lines.append("  --elf=%s \\" % ",".join(["%s=%s" % (n, f.short_path) for n, f in sorted(image_info.elfs.items())]))
    for a in extra_args:
        lines.append("  '%s' \\" % a.replace("'", "'\\''"))
    if ctx.attr.debugger:
        lines.append("  --gdb --gdb_script=%s --esr_tool=%s \\" % (
            ctx.file._gdb_script.short_path,
            ctx.executable._esr_tool.short_path,
        ))
    lines.append('  "$@"')
    script = ctx.actions.declare_file(ctx.label.name + ".sh")
    ctx.actions.write(script, "\n".join(lines) + "\n", is_executable = True)
    files = [image_info.image] + image_info.elfs.values() + [ctx.file._gdb_script]
    runfiles = ctx.runfiles(files = files).merge(ctx.attr._runner[DefaultInfo].default_runfiles)
    runfiles = runfiles.merge(ctx.attr._esr_tool[DefaultInfo].default_runfiles)
    return script, runfiles

def _qemu_run_impl(ctx):
    args = [ctx.expand_location(a, ctx.attr.data) for a in ctx.attr.args_]
    script, runfiles = _runner_script(ctx, ctx.attr.image[KeelImageInfo], args)
    runfiles = runfiles.merge(ctx.runfiles(files = ctx.files.data))
    return [DefaultInfo(executable = script, runfiles = runfiles)]

_RUN_ATTRS = {
    "image": attr.label(providers = [KeelImageInfo], mandatory = True),
    "args_": attr.string_list(doc = "runner arguments placed before the command line's; $(rootpath) expands"),
    "data": attr.label_list(allow_files = True, doc = "files the arguments refer to"),
    "debugger": attr.bool(doc = "start halted under gdb-multiarch (bazel run //:debug)"),
    "_runner": attr.label(default = "//tools/qemu_runner", executable = True, cfg = "target"),
    "_esr_tool": attr.label(default = "//tools/esr_decode", executable = True, cfg = "target"),
    "_gdb_script": attr.label(default = "//tools/gdb:keel.py", allow_single_file = True),
}

qemu_run = rule(
    implementation = _qemu_run_impl,
    executable = True,
    attrs = _RUN_ATTRS,
    doc = "`bazel run` target: boots an image in QEMU through //tools/qemu_runner.",
)

qemu_test = rule(
    implementation = _qemu_run_impl,
    test = True,
    attrs = _RUN_ATTRS,
    doc = "A test that boots an image in QEMU and checks its console (see tools/qemu_runner).",
)

def _aarch64_files_impl(ctx):
    files = depset(transitive = [d[DefaultInfo].files for d in ctx.attr.srcs])
    return [DefaultInfo(files = files, runfiles = ctx.runfiles(transitive_files = files))]

aarch64_files = rule(
    implementation = _aarch64_files_impl,
    attrs = dict(_ALLOWLIST, **{"srcs": attr.label_list(cfg = _to_aarch64)}),
    doc = "Builds its srcs for aarch64 bare metal and forwards their files.",
)

def keel_system_image(name, system, programs, **kwargs):
    """A system image: //user/init, the servers, and `programs` (target -> module
    name), started as the system description `system` says."""
    modules = {
        "//servers/memory": "memory",
        "//servers/blk": "blk",
        "//servers/net": "net",
        "//servers/netstack": "netstack",
        "//servers/rtc": "rtc",
        "//servers/uart": "uart",
    }
    modules.update(programs)
    keel_user_image(name = name, init = "//user/init", modules = modules, system = system, **kwargs)

def keel_user_image(name, init, modules = {}, **kwargs):
    """A system image whose init is the user program `init` (plus other boot modules)."""
    all_modules = {init: "init"}
    all_modules.update(modules)
    keel_image(
        name = name,
        boot = "//kernel/arch/arm64/boot",
        kernel = "//kernel",
        modules = all_modules,
        **kwargs
    )

def keel_qemu_test(
        name,
        args,
        timeout,
        image = None,
        program = None,
        modules = {},
        invariants = False,
        checks = None,
        tags = [],
        **kwargs):
    """A QEMU test: boots an image and checks its console (tools/qemu_runner).

    args: the runner's arguments, kept in their order (the runner passes
      once every --expect has matched a console line, in any order); the
      macro puts --timeout first and the standard expectations last.
    timeout: seconds the runner allows the guest; the Bazel size follows
      from it (small up to 60 s, medium up to 300 s, large beyond).
    program: a user program (label) to boot as init, with `modules` and
      `invariants` (the kernel checks its invariants after every syscall);
      the image is built here as NAME_image. Or `image`: an image to boot.
    checks: the program name its keel/testing.h summary line prints: the
      test then fails on any "TEST ...: FAIL" line or a kernel panic, and
      expects "<checks>: N passed, 0 failed" at the end.
    """
    if (program == None) == (image == None):
        fail("keel_qemu_test %s: give either program or image" % name)
    if program != None:
        keel_user_image(
            name = name + "_image",
            init = program,
            modules = modules,
            invariants = invariants,
        )
        image = ":" + name + "_image"
    standard = []
    if checks != None:
        standard = [
            "--fail_on=^TEST .*: FAIL",
            "--fail_on=KERNEL PANIC",
            "--expect=^%s: [0-9]+ passed, 0 failed$" % checks,
        ]
    qemu_test(
        name = name,
        size = "small" if timeout <= 60 else "medium" if timeout <= 300 else "large",
        args_ = ["--timeout=%d" % timeout] + args + standard,
        image = image,
        tags = ["qemu"] + tags,
        **kwargs
    )
